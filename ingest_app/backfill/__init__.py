"""Pulls from a provider's API into raw (what its webhooks missed or sent before they existed)."""

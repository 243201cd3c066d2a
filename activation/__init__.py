"""Activation: turns membership-ledger transitions into provider calls (Resend, Meta, outbound), exactly once."""

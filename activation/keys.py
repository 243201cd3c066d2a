"""Identities derived from data, never random: idempotency keys and tag values.

Every function here is deterministic so that a retried or crashed run computes
the same key (the provider then deduplicates). Holdout assignment is dbt's
(models/marts/activation/activation_holdout.sql).
"""

from __future__ import annotations

import hashlib
import re

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
MAX_KEY_LEN = 256


def outbox_key(segment: str, person_id: str, transition_id: int | str, channel: str, step: int) -> str:
    """The Idempotency-Key of one action: readable when it fits Resend's 256 chars, hashed when not."""
    readable = f"{segment}:{person_id}:{transition_id}:{channel}:{step}"
    if len(readable) <= MAX_KEY_LEN:
        return readable
    digest = hashlib.sha256(readable.encode()).hexdigest()
    return f"{segment[:100]}:{digest}"


def batch_key(outbox_keys: list[str]) -> str:
    """One key for a batch: a hash of its members, so the same members give the same key."""
    digest = hashlib.sha256("\n".join(sorted(outbox_keys)).encode()).hexdigest()
    return f"batch:{digest}"


def tag_value(value: object) -> str:
    """Resend tag rules: ASCII letters, digits, `_` and `-`, at most 256 characters."""
    cleaned = _TAG_UNSAFE.sub("_", str(value if value is not None else ""))
    return (cleaned or "none")[:256]

"""Identities derived from data, never random: idempotency keys, holdouts, tag values.

Every function here is deterministic so that a retried or crashed run computes
the same key (the provider then deduplicates) and the same holdout decision
(attribution can trust who was held out).
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


def holdout_bucket(person_id: str, segment: str) -> float:
    """A number in [0, 1) fixed for (person, segment); below the share means held out."""
    digest = hashlib.sha256(f"{segment}\x1f{person_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_holdout(person_id: str, segment: str, share: float | None) -> bool:
    return bool(share) and holdout_bucket(person_id, segment) < float(share)


def tag_value(value: object) -> str:
    """Resend tag rules: ASCII letters, digits, `_` and `-`, at most 256 characters."""
    cleaned = _TAG_UNSAFE.sub("_", str(value if value is not None else ""))
    return (cleaned or "none")[:256]

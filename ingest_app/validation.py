"""What a body must be before anything lands: parseable JSON, and fields staging can cast.

Two rules, one home:
- `load_json`: a body nested deeper than `MAX_DEPTH` or holding a lone UTF-16
  surrogate (`"\\ud800"`, which Python decodes but neither UTF-8 nor Postgres can
  store) is refused with 400 before any later step (hashing, Jsonb, Postgres) meets it.
- `check_fields`: every field a staging model casts (`::timestamptz`, `::bigint`,
  `::int`, `::boolean`, `::numeric`, `from_unix`) must already be of that type, so
  one signed delivery cannot make every later `dbt build` fail. `FIELDS` mirrors
  `models/staging/<source>/*.sql`; a model that casts a new field adds it here.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from ingest_app.errors import Rejected

MAX_DEPTH = 64

# --- JSON ----------------------------------------------------------------------------

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NON_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")
# A `\uD800`-`\uDFFF` escape: the only way a surrogate gets into parsed JSON text (raw UTF-8
# cannot encode one). Pairs (escaped emoji) are fine; only bodies with such escapes are walked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
TOO_DEEP = f"body is nested deeper than {MAX_DEPTH} levels"
LONE_SURROGATE = "body holds a lone UTF-16 surrogate escape (e.g. \\ud800)"


def check_depth(body: bytes) -> None:
    """400 when brackets (outside strings) nest deeper than MAX_DEPTH.

    Peels innermost pairs once per level, each pass in C (`re`), so a 1 MiB body costs a
    few milliseconds instead of a Python loop over every bracket. A body with no more
    opening brackets than MAX_DEPTH (anywhere, strings included) cannot nest deeper,
    which settles a typical webhook without the regex passes.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return
    skeleton = _STRING.sub(b"", body).translate(None, _NON_BRACKETS)
    for _ in range(MAX_DEPTH):
        if not skeleton:
            return
        skeleton = _INNERMOST_PAIR.sub(b"", skeleton)
    if skeleton:
        raise Rejected(400, TOO_DEEP)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_value(value: Any) -> None:
    """400 when a parsed value nests deeper than MAX_DEPTH or any key or string holds a lone
    surrogate (iterative, so no recursion limit is met)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                raise Rejected(400, LONE_SURROGATE)
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise Rejected(400, TOO_DEEP)
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def load_json(body: bytes) -> Any:
    """The parsed body, or `Rejected(400)` for invalid JSON, too deep a nesting or a lone surrogate."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise Rejected(400, TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, "body is not valid JSON") from None
    check_parsed(body, value)
    return value


def check_parsed(text: bytes, value: Any) -> None:
    """The limits of `load_json` for JSON text something else parsed into `value`."""
    check_depth(text)
    if _SURROGATE_ESCAPE.search(text):
        check_value(value)


# --- fields staging casts ------------------------------------------------------------

_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_BIGINT = (-(2**63), 2**63 - 1)
_INT = (-(2**31), 2**31 - 1)
_UNIX_MAX = 253402300799  # 9999-12-31T23:59:59Z
_BEYOND_MICROSECONDS = re.compile(r"\.(\d{6})\d+")


def _timestamptz(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO.match(value):
        return False
    text = _BEYOND_MICROSECONDS.sub(r".\1", value.replace("z", "Z")).replace("Z", "+00:00")
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _integer(bounds: tuple[int, int]):
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]


def _unix(value: Any) -> bool:
    # `from_unix` reads '' as null; anything else must be a number of seconds Postgres can hold.
    if value == "":
        return True
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= _UNIX_MAX)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


TYPES = {
    "timestamptz": (_timestamptz, "an ISO 8601 timestamp"),
    "unix": (_unix, "a Unix timestamp in seconds"),
    "bigint": (_integer(_BIGINT), "a 64-bit integer"),
    "int": (_integer(_INT), "a 32-bit integer"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "numeric": (_numeric, "a number"),
}

_STRIPE_OBJECT = "data.object"
_STRIPE_ITEM = "data.object.items.data[]"
# Per source: the path of each field staging casts (`[]` = every element of a list) -> its type.
FIELDS: dict[str, dict[str, str]] = {
    "cal": {
        "createdAt": "timestamptz",
        "payload.startTime": "timestamptz",
        "payload.endTime": "timestamptz",
        "payload.attendees[].noShow": "boolean",
    },
    "calendly": {
        "created_at": "timestamptz",
        "payload.rescheduled": "boolean",
        "payload.scheduled_event.start_time": "timestamptz",
    },
    "resend": {
        "created_at": "timestamptz",
        "data.created_at": "timestamptz",
        "data.click.timestamp": "timestamptz",
        "data.unsubscribed": "boolean",
    },
    "stripe": {
        "created": "unix",
        f"{_STRIPE_OBJECT}.created": "unix",
        f"{_STRIPE_OBJECT}.deleted": "boolean",
        f"{_STRIPE_OBJECT}.amount_total": "bigint",
        f"{_STRIPE_OBJECT}.amount_due": "bigint",
        f"{_STRIPE_OBJECT}.amount_paid": "bigint",
        f"{_STRIPE_OBJECT}.attempt_count": "int",
        f"{_STRIPE_OBJECT}.current_period_start": "unix",
        f"{_STRIPE_OBJECT}.current_period_end": "unix",
        f"{_STRIPE_OBJECT}.cancel_at_period_end": "boolean",
        f"{_STRIPE_OBJECT}.canceled_at": "unix",
        f"{_STRIPE_OBJECT}.ended_at": "unix",
        f"{_STRIPE_OBJECT}.trial_end": "unix",
        f"{_STRIPE_ITEM}.price.unit_amount": "bigint",
        f"{_STRIPE_ITEM}.plan.amount": "bigint",
        f"{_STRIPE_ITEM}.quantity": "int",
        f"{_STRIPE_ITEM}.current_period_start": "unix",
        f"{_STRIPE_ITEM}.current_period_end": "unix",
    },
    "posthog": {
        "timestamp": "timestamptz",
    },
    "deals": {
        "occurred_at": "timestamptz",
        "amount_cents": "bigint",
    },
    "capi": {
        "custom_data.value": "numeric",
    },
}


def _steps(path: str) -> tuple[tuple[str, bool], ...]:
    """`a.b[].c` as (key, is_each_element) steps."""
    return tuple((part.removesuffix("[]"), part.endswith("[]")) for part in path.split("."))


def _values_at(payload: Any, steps: tuple[tuple[str, bool], ...]) -> list[tuple[str, Any]]:
    """(concrete path, value) for each present, non-null value at the path `steps` spell; missing
    parents are skipped, as `->` in SQL yields null for them."""
    found = [("", payload)]
    for key, each in steps:
        step = []
        for where, node in found:
            if isinstance(node, dict) and node.get(key) is not None:
                child, name = node[key], f"{where}.{key}" if where else key
                if not each:
                    step.append((name, child))
                elif isinstance(child, list):
                    step.extend((f"{name}[{i}]", element) for i, element in enumerate(child))
        found = step
    return [(where, value) for where, value in found if value is not None]


# FIELDS with each path split once: the checks run on every delivery.
_CHECKS = {source: [(_steps(path), *TYPES[type_name]) for path, type_name in paths.items()]
           for source, paths in FIELDS.items()}


def check_fields(source: str, payload: Any) -> None:
    """400 naming the first field staging would fail to cast."""
    for steps, valid, expected in _CHECKS[source]:
        for where, value in _values_at(payload, steps):
            if not valid(value):
                raise Rejected(400, f"field {where!r} must be {expected}, got {_describe(value)}")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

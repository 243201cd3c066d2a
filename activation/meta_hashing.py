"""Meta's normalization and SHA-256 rules for customer information parameters.

Meta matches a conversion or an audience row to an account by comparing hashes,
so a value normalized differently from Meta's rules hashes to something Meta has
never seen and silently does not match. The rules here follow Meta's published
"Customer Information Parameters" table (Conversions API) and Custom Audiences
guide; CAPI delivery and audience sync in activation both call `user_data()` so
an email hashes the same way on every channel.

Rules, per key:

- ``em``       trim, lowercase; a value that is not an address is omitted.
- ``ph``       E.164 digits without ``+`` (country code, then the national
               number), parsed with Google's libphonenumber (``phonenumbers``) in
               the person's country: a national trunk ``0`` goes where that
               country drops it (Germany ``0491 123456`` → ``49491123456``) and
               stays where it is part of the number (Italy ``06 1234 5678`` →
               ``390612345678``). A number written without ``+``/``00`` and no
               known country is omitted: guessing its country sends a hash no
               account has.
- ``fn``/``ln`` trim, lowercase, punctuation removed; other UTF-8 letters kept.
- ``ct``       lowercase, letters only (no spaces, digits or punctuation).
- ``st``       US states: 2-letter ANSI code in lowercase (full names mapped);
               elsewhere lowercase letters only.
- ``zp``       lowercase, no spaces, no dash; US ZIP+4 keeps the first 5 digits.
- ``country``  2-letter ISO 3166-1 alpha-2 in lowercase; anything else omitted.
- ``db``       YYYYMMDD from ISO dates (``1990-07-04``, ``1990/07/04``,
               ``19900704``) or a ``date``; ambiguous forms (``04/07/1990``) omitted.
- ``ge``       ``f`` or ``m``.
- ``external_id`` trimmed only (Meta prescribes no normalization; case kept, so
               ids stay distinct).

Every hashed key: a value that already is 64 hex characters is taken as a
SHA-256 hash and passed through (lowercased), never hashed twice. Empty values
(``None``, ``""``, whitespace, or empty after normalization) are omitted, not
hashed: the hash of "" would match every empty field at Meta.

Never hashed, passed through as given: ``client_ip_address``,
``client_user_agent``, ``fbp``, ``fbc`` (and Meta's other unhashed ids
``subscription_id``, ``lead_id``, ``fb_login_id``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import phonenumbers

HASHED_KEYS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id")
UNHASHED_KEYS = ("client_ip_address", "client_user_agent", "fbp", "fbc", "subscription_id", "lead_id", "fb_login_id")

_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_US_ZIP = re.compile(r"^(\d{5})(?:\d{4})?$")
_ISO_DATE = re.compile(r"^(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|()(\d{2})(\d{2}))$")

US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
    "colorado": "co", "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc",
    "florida": "fl", "georgia": "ga", "hawaii": "hi", "idaho": "id", "illinois": "il",
    "indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky", "louisiana": "la",
    "maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi", "minnesota": "mn",
    "mississippi": "ms", "missouri": "mo", "montana": "mt", "nebraska": "ne", "nevada": "nv",
    "newhampshire": "nh", "newjersey": "nj", "newmexico": "nm", "newyork": "ny",
    "northcarolina": "nc", "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or",
    "pennsylvania": "pa", "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd",
    "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va",
    "washington": "wa", "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy",
    "puertorico": "pr",
}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_hashed(value: str) -> bool:
    return bool(_SHA256_HEX.match(value))


def _letters_only(text: str) -> str:
    """Lowercase, keeping letters of any script (Meta accepts UTF-8) and nothing else."""
    return "".join(ch for ch in text.lower() if unicodedata.category(ch).startswith("L"))


def _no_punctuation(text: str) -> str:
    kept = "".join(ch for ch in text.lower() if not unicodedata.category(ch).startswith(("P", "S")))
    return " ".join(kept.split())


def normalize_email(value: str) -> str | None:
    text = value.strip().lower()
    return text if _EMAIL.match(text) else None


def normalize_phone(value: str, region: str | None = None) -> str | None:
    """Country code + national number, digits only; None when the country cannot be known."""
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not re.search(r"\d", text):
        return None
    try:
        number = phonenumbers.parse(text, region.upper() if region and not text.startswith("+") else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def normalize_name(value: str) -> str | None:
    return _no_punctuation(value.strip()) or None


def normalize_city(value: str) -> str | None:
    return _letters_only(value) or None


def normalize_state(value: str) -> str | None:
    letters = _letters_only(value)
    return US_STATES.get(letters, letters) or None


def normalize_zip(value: str, country: str | None = None) -> str | None:
    text = re.sub(r"[\s\-]", "", value.strip().lower())
    us = _US_ZIP.match(text)
    if us and country in (None, "us"):
        return us.group(1)
    return text or None


def normalize_country(value: str) -> str | None:
    text = value.strip().lower()
    return text if re.fullmatch(r"[a-z]{2}", text) else None


def normalize_birthdate(value: str | date) -> str | None:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    match = _ISO_DATE.match(value.strip())
    if not match:
        return None
    year, month, day = match.group(1), match.group(3) or match.group(6), match.group(4) or match.group(7)
    try:
        return date(int(year), int(month), int(day)).strftime("%Y%m%d")
    except ValueError:
        return None


def normalize_gender(value: str) -> str | None:
    text = value.strip().lower()
    return text[0] if text[:1] in ("f", "m") else None


def normalize_external_id(value: str) -> str | None:
    return value.strip() or None


def normalize(key: str, value: Any, *, country: str | None = None) -> str | None:
    """The value Meta expects before hashing, or None when it must be omitted."""
    if value is None:
        return None
    if key == "db" and isinstance(value, date):
        return normalize_birthdate(value)
    text = str(value)
    if not text.strip():
        return None
    if key == "em":
        return normalize_email(text)
    if key == "ph":
        return normalize_phone(text, country)
    if key in ("fn", "ln"):
        return normalize_name(text)
    if key == "ct":
        return normalize_city(text)
    if key == "st":
        return normalize_state(text)
    if key == "zp":
        return normalize_zip(text, country)
    if key == "country":
        return normalize_country(text)
    if key == "db":
        return normalize_birthdate(text)
    if key == "ge":
        return normalize_gender(text)
    if key == "external_id":
        return normalize_external_id(text)
    raise KeyError(f"{key!r} is not a Meta customer information key that is hashed")


def hash_value(key: str, value: Any, *, country: str | None = None) -> str | None:
    """SHA-256 hex of the normalized value; 64-hex input passes through; empty gives None."""
    if isinstance(value, str) and is_hashed(value.strip()):
        return value.strip().lower()
    normalized = normalize(key, value, country=country)
    return sha256_hex(normalized) if normalized else None


def _values(value: Any) -> Iterable[Any]:
    return value if isinstance(value, (list, tuple, set)) else [value]


def user_data(raw: dict[str, Any]) -> dict[str, Any]:
    """Meta `user_data` from plain fields: hashed keys hashed, unhashed keys copied, empties dropped.

    A list value stays a list (Meta accepts several emails or phones), with
    duplicates and empties removed; a single value stays a single string.
    Unknown keys are refused so a typo cannot send an unhashed value to Meta.
    ``country`` also gives the region phones are read in and how zips are cut.
    """
    unknown = sorted(set(raw) - set(HASHED_KEYS) - set(UNHASHED_KEYS))
    if unknown:
        raise KeyError(f"unknown Meta user_data key(s): {', '.join(unknown)}")
    country = normalize_country(str(raw["country"])) if raw.get("country") and not is_hashed(str(raw["country"])) else None
    result: dict[str, Any] = {}
    for key, value in raw.items():
        if key in UNHASHED_KEYS:
            if value not in (None, ""):
                result[key] = value
            continue
        hashed: list[str] = []
        for item in _values(value):
            digest = hash_value(key, item, country=country)
            if digest and digest not in hashed:
                hashed.append(digest)
        if hashed:
            result[key] = hashed if isinstance(value, (list, tuple, set)) else hashed[0]
    return result

"""Meta normalization + SHA-256 on a table of tricky inputs (Customer Information Parameters rules)."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from activation.meta_hashing import hash_value, normalize, user_data


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


ALREADY_HASHED = sha("ada@example.org")

# (key, raw input, what Meta expects before hashing; None = omitted)
TABLE = [
    # email: trim + lowercase
    ("em", "  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
    ("em", "\tPERSON@example.com\n", "person@example.com"),
    ("em", "ada lovelace@example.com", None),  # a space inside is not an address
    ("em", "not-an-email", None),
    ("em", "", None),
    ("em", "   ", None),
    ("em", None, None),
    # phone: E.164 digits (libphonenumber), country code kept, 00 prefix and trunk (0) dropped
    ("ph", "+1 (650) 555-1212", "16505551212"),
    ("ph", "+44 844 412 4653", "448444124653"),
    ("ph", "0044 20 7946 0958", "442079460958"),
    ("ph", "00 49 (0)30-1234.567", "49301234567"),
    ("ph", "+49 (0) 170 1234567", "491701234567"),
    ("ph", "+33 6 12 34 56 78", "33612345678"),
    ("ph", "(+1) 650.555.1212", "16505551212"),
    ("ph", "1-650-555-1212", None),  # national form, no country known: not sent
    ("ph", "06 1234 5678", None),
    ("ph", "---", None),
    ("ph", "", None),
    # names: lowercase, no punctuation, UTF-8 letters kept
    ("fn", "  Mary-Jane ", "maryjane"),
    ("ln", "O'Brien", "obrien"),
    ("fn", "Émilie", "émilie"),
    ("ln", "  ", None),
    # city: lowercase, no spaces, no punctuation, no digits
    ("ct", "San Francisco", "sanfrancisco"),
    ("ct", "St. Louis 2", "stlouis"),
    ("ct", "Köln", "köln"),
    # state: 2-letter ANSI code lowercase; US full names mapped
    ("st", "CA", "ca"),
    ("st", " California ", "ca"),
    ("st", "New York", "ny"),
    ("st", "Île-de-France", "îledefrance"),
    # zip: lowercase, no spaces or dash; US first 5 digits
    ("zp", "94025-1234", "94025"),
    ("zp", " 94025 ", "94025"),
    ("zp", "SW1A 1AA", "sw1a1aa"),
    ("zp", "M1 1AE", "m11ae"),
    # country: ISO 3166-1 alpha-2 lowercase
    ("country", " US ", "us"),
    ("country", "United States", None),
    # date of birth: YYYYMMDD
    ("db", "1990-07-04", "19900704"),
    ("db", "1990/7/4", "19900704"),
    ("db", "19900704", "19900704"),
    ("db", date(1990, 7, 4), "19900704"),
    ("db", "04/07/1990", None),  # day/month order unknowable
    ("db", "1990-02-30", None),
    # external id: trimmed, case kept
    ("external_id", "  P_123 ", "P_123"),
    ("external_id", "", None),
]


@pytest.mark.parametrize("key, raw, expected", TABLE, ids=[f"{k}:{r!r}" for k, r, _ in TABLE])
def test_normalize_and_hash_table(key, raw, expected):
    assert normalize(key, raw) == expected
    assert hash_value(key, raw) == (sha(expected) if expected is not None else None)


def test_published_example_hash():
    # Meta's and Snap's documented example: Person@Example.com -> person@example.com -> this digest.
    assert hash_value("em", "Person@Example.com") == "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"


@pytest.mark.parametrize("key", ["em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "external_id"])
def test_already_hashed_values_pass_through_lowercased(key):
    assert hash_value(key, ALREADY_HASHED) == ALREADY_HASHED
    assert hash_value(key, "  " + ALREADY_HASHED.upper() + " ") == ALREADY_HASHED


# (national number as written, person's country, E.164 digits Meta expects)
PHONES_BY_COUNTRY = [
    ("06 1234 5678", "it", "390612345678"),  # Italy: the leading 0 is part of the number
    ("0491 123456", "de", "49491123456"),  # Germany: trunk 0 dropped
    ("030 1234567", "DE", "49301234567"),
    ("020 7946 0958", "gb", "442079460958"),
    ("(650) 555-1212", "us", "16505551212"),
    ("06 12 34 56 78", "fr", "33612345678"),
    ("+33 6 12 34 56 78", "gb", "33612345678"),  # an international number keeps its own country
    ("0033 6 12 34 56 78", "gb", "33612345678"),
    ("+39 06 1234 5678", None, "390612345678"),
]


@pytest.mark.parametrize("raw, country, expected", PHONES_BY_COUNTRY)
def test_phone_national_numbers_read_in_the_persons_country(raw, country, expected):
    assert normalize("ph", raw, country=country) == expected
    assert user_data({"ph": raw, "country": country})["ph"] == sha(expected)


def test_phone_without_a_known_country_is_not_sent():
    assert "ph" not in user_data({"ph": "0491 123456"})
    assert "ph" not in user_data({"ph": "0491 123456", "country": "Germany"})  # not an ISO code: unknown
    assert "ph" not in user_data({"ph": "555", "country": "us"})  # not a possible number


def test_zip_outside_us_is_not_cut_to_five_digits():
    assert normalize("zp", "01310-100", country="br") == "01310100"
    assert user_data({"zp": "94025-1234", "country": "US"})["zp"] == sha("94025")


def test_user_data_hashes_identifiers_and_never_hashes_ip_ua_fbp_fbc():
    raw = {
        "em": [" Ada@Example.org ", "ada@example.org", "", ALREADY_HASHED.upper()],
        "ph": "+1 (650) 555-1212",
        "fn": "",
        "ln": None,
        "external_id": "p_1",
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbp": "fb.1.1700000000000.1234567890",
        "fbc": "fb.1.1700000000000.AbCdEf_123",
    }
    result = user_data(raw)
    assert result == {
        "em": [sha("ada@example.org")],  # duplicates (incl. the pre-hashed one) collapse, empty dropped
        "ph": sha("16505551212"),
        "external_id": sha("p_1"),
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbp": "fb.1.1700000000000.1234567890",
        "fbc": "fb.1.1700000000000.AbCdEf_123",
    }
    assert "fn" not in result and "ln" not in result


def test_user_data_refuses_unknown_keys():
    with pytest.raises(KeyError, match="email"):
        user_data({"email": "ada@example.org"})

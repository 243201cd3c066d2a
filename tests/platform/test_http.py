"""`retry-after` as providers send it: seconds, an HTTP date (GMT or the naive `-0000` form), or junk."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from gdp.http import parse_retry_after


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("0.5", 0.5), ("-3", 0.0), ("", None), (None, None),
                                                  ("soon", None), ("Wed, 99 Foo 2026", None)])
def test_seconds_and_junk(header, expected):
    assert parse_retry_after(header) == expected


@pytest.mark.parametrize("usegmt", [True, False])
def test_an_http_date_is_the_wait_until_then(usegmt):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    header = format_datetime(when, usegmt=True) if usegmt else format_datetime(when.replace(tzinfo=None))
    assert 25 <= parse_retry_after(header) <= 31


def test_a_date_in_the_past_means_now():
    assert parse_retry_after("Mon, 01 Jan 2024 00:00:00 GMT") == 0.0

"""Tracked links and the person cookie: minted and verified with TRACKING_LINK_SECRET.

A tracked link is `<GDP_PUBLIC_BASE_URL>/c/<token>`. The token carries person_id,
campaign_id, funnel, the destination URL and an optional email id, so the click
redirect needs no database read to know where to go and whom the click belongs to.
Anyone can read a token (it is encoded, not encrypted), nobody can change one:

    token = base64url( version | fields | mac )      (no padding)
    version  1 byte: 1 = fields as written, 2 = fields deflate-compressed
    fields   for each of person_id, campaign_id, funnel, url, email_id:
             varint byte length + UTF-8 bytes ("" for no email id)
    mac      first 16 bytes (128 bits) of HMAC-SHA256(secret, "gdp-link\\0" + version + fields)

Only http(s) destinations with a host are minted and accepted, so a token can
never send a browser to `javascript:` or `data:`; a token that fails any check is
`InvalidToken` and the redirect goes to APP_BASE_URL instead.

The person cookie (`gdp_pid`) is `<person_id>.<mac>` with its own 128-bit MAC
under the same secret (a different label), so the browser snippet can read the
person id (everything before the last dot) while the API can tell a cookie this
system set from one typed into a browser's dev tools.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import zlib
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from gdp.settings import Settings

MAC_BYTES = 16
MAX_TOKEN_CHARS = 4096
MAX_FIELD_BYTES = 2048
PERSON_COOKIE = "gdp_pid"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
_LINK_LABEL = b"gdp-link\x00"
_COOKIE_LABEL = b"gdp-person-cookie\x00"
_PLAIN, _DEFLATED = 1, 2
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


class InvalidToken(ValueError):
    """A token that was not minted with this secret, or was cut or changed."""


class InvalidLink(ValueError):
    """Input `mint_link` refuses: an empty id or a destination that is not http(s)."""


@dataclass(frozen=True)
class LinkToken:
    person_id: str
    campaign_id: str
    funnel: str
    url: str
    email_id: str | None = None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise InvalidToken("token has characters outside base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, base64.binascii.Error):
        raise InvalidToken("token is not base64url") from None


def _mac(secret: str, label: bytes, data: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), label + data, hashlib.sha256).digest()[:MAC_BYTES]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 21:
            raise InvalidToken("token fields are truncated")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def check_destination(url: str) -> str:
    """The URL itself when a browser may be sent there; `InvalidLink` otherwise."""
    if not isinstance(url, str) or not url or _UNSAFE_URL_CHARS.search(url):
        raise InvalidLink("destination URL is empty or has spaces, control characters or backslashes")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidLink(f"destination URL must be http(s), not {parts.scheme or 'relative'!r}")
    if not parts.hostname:
        raise InvalidLink("destination URL has no host")
    return url


def make_token(secret: str, link: LinkToken) -> str:
    if not secret:
        raise InvalidLink("TRACKING_LINK_SECRET is empty")
    for name in ("person_id", "campaign_id", "funnel"):
        value = getattr(link, name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidLink(f"{name} is required")
    check_destination(link.url)
    fields = b""
    for value in (link.person_id, link.campaign_id, link.funnel, link.url, link.email_id or ""):
        raw = value.encode("utf-8")
        if len(raw) > MAX_FIELD_BYTES:
            raise InvalidLink(f"a link field is longer than {MAX_FIELD_BYTES} bytes")
        fields += _varint(len(raw)) + raw
    version, body = _PLAIN, fields
    deflated = zlib.compress(fields, 9)[2:-4]  # raw deflate: the zlib header and checksum add nothing here
    if len(deflated) < len(fields):
        version, body = _DEFLATED, deflated
    data = bytes([version]) + body
    return _b64encode(data + _mac(secret, _LINK_LABEL, data))


def verify_token(secret: str, token: str) -> LinkToken:
    """The link a token carries, after checking its MAC; `InvalidToken` on any doubt."""
    if not secret:
        raise InvalidToken("no secret to verify with")
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("token is empty or too long")
    raw = _b64decode(token)
    if len(raw) < 1 + MAC_BYTES + 1:
        raise InvalidToken("token is truncated")
    data, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret, _LINK_LABEL, data)):
        raise InvalidToken("token signature does not match")
    version, body = data[0], data[1:]
    if version == _DEFLATED:
        try:
            body = zlib.decompressobj(-15).decompress(body, 5 * (MAX_FIELD_BYTES + 4))
        except zlib.error:
            raise InvalidToken("token body does not inflate") from None
    elif version != _PLAIN:
        raise InvalidToken(f"unknown token version {version}")
    values, pos = [], 0
    for _ in range(5):
        length, pos = _read_varint(body, pos)
        if pos + length > len(body):
            raise InvalidToken("token fields are truncated")
        try:
            values.append(body[pos : pos + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidToken("token field is not UTF-8") from None
        pos += length
    if pos != len(body):
        raise InvalidToken("token has trailing bytes")
    person_id, campaign_id, funnel, url, email_id = values
    try:
        check_destination(url)
    except InvalidLink as exc:
        raise InvalidToken(str(exc)) from None
    return LinkToken(person_id, campaign_id, funnel, url, email_id or None)


def mint_link(
    settings: Settings, person_id: str, campaign_id: str, funnel: str, url: str, email_id: str | None = None
) -> str:
    """A tracked URL for one person, campaign and destination; activation puts these in emails."""
    secret = settings.require("tracking_link_secret", "tracked links are signed with it")
    token = make_token(secret, LinkToken(person_id, campaign_id, funnel, url, email_id))
    return f"{settings.public_base_url.rstrip('/')}/c/{token}"


def person_cookie_value(secret: str, person_id: str) -> str:
    return f"{person_id}.{_b64encode(_mac(secret, _COOKIE_LABEL, person_id.encode('utf-8')))}"


def read_person_cookie(secret: str, value: str | None) -> str | None:
    """The person_id of a cookie this system set, else None (missing, forged or cut)."""
    if not value or "." not in value or len(value) > MAX_FIELD_BYTES:
        return None
    person_id, _, mac = value.rpartition(".")
    if not person_id:
        return None
    expected = person_cookie_value(secret, person_id).rpartition(".")[2]
    return person_id if hmac.compare_digest(mac.encode(), expected.encode()) else None


_UNSUBSCRIBE_LABEL = b"gdp-unsubscribe\x00"


def unsubscribe_token(secret: str, person_id: str, campaign_id: str) -> str:
    """A MAC over (person, campaign) so an unsubscribe link cannot be forged for someone else."""
    return _b64encode(_mac(secret, _UNSUBSCRIBE_LABEL, f"{person_id}\x1f{campaign_id}".encode()))


def unsubscribe_url(settings: Settings, person_id: str, campaign_id: str) -> str:
    """The link in every email's footer and `List-Unsubscribe` header (served by ingest_app.unsubscribe)."""
    secret = settings.require("tracking_link_secret", "unsubscribe links are signed with it")
    query = urlencode({"p": person_id, "c": campaign_id, "t": unsubscribe_token(secret, person_id, campaign_id)})
    return f"{settings.public_base_url.rstrip('/')}/unsubscribe?{query}"


def verify_unsubscribe(secret: str, person_id: str, campaign_id: str, token: str) -> bool:
    expected = unsubscribe_token(secret, person_id, campaign_id)
    return hmac.compare_digest(token.encode(), expected.encode())

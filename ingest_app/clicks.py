"""`GET /c/<token>`: the tracked-link redirect, on the path of every email click.

A valid token (see gdp/links.py) lands one `raw.click` row per request, sets the
person cookie and answers 302 to the token's destination with `gdp_click_id`
added (the destination's own query and fragment kept, plus `fbclid`/`utm_*` that
arrived on the tracked URL itself). Anything else answers 302 to APP_BASE_URL:
a URL inside an unverifiable token is never followed, so there is no open redirect.

The person must get where the link promised even when the database is down:
landing waits at most CLICK_DB_TIMEOUT_S for a connection, and a failure is
logged (click id, no token) and the redirect happens anyway.

Person cookie `gdp_pid` = `<person_id>.<mac>` (gdp.links.person_cookie_value):
Max-Age one year, Path=/, SameSite=Lax, Domain=TRACKING_DOMAIN when set (else
host-only), Secure when the request came over https. It is deliberately not
HttpOnly: the browser snippet /gdp.js reads the person id from it.

"https" is the WSGI scheme, or `X-Forwarded-Proto` when GDP_TRUSTED_PROXIES > 0
(the same setting makes `X-Forwarded-For` the client IP); with the default 0
those headers are ignored, since any client can send them.

HEAD requests, requests without a user agent and known mail-security link
scanners and previewers (SCANNERS) are recorded with `is_bot` and `bot_reason`,
not dropped: the row shows the prefetch happened, dbt decides what counts.
"""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, redirect, request

from gdp.links import COOKIE_MAX_AGE_S, PERSON_COOKIE, InvalidToken, person_cookie_value, verify_token
from gdp.settings import Settings
from ingest_app import db
from ingest_app.errors import Rejected

log = logging.getLogger(__name__)
bp = Blueprint("clicks", __name__)
REQUIRED_SETTINGS = {"tracking_link_secret": "tracked links /c/<token> are verified with it"}

CLICK_DB_TIMEOUT_S = 0.5
CLICK_ID_PARAM = "gdp_click_id"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id")
MAX_HEADER_CHARS = 1024

# (bot_reason, user-agent pattern); matched case-insensitively, first match wins.
SCANNERS = [
    ("barracuda", r"barracuda"),
    ("mimecast", r"mimecast"),
    ("proofpoint", r"proofpoint|urldefense|ppops"),
    ("microsoft_safelinks", r"safelinks|microsoft office|ms-office|msoffice|microsoft outlook|office365|skypeuripreview"),
    ("google_safety", r"google-safety|googleimageproxy|google-inspectiontool|feedfetcher-google"),
    ("cisco_ironport", r"ironport|cisco"),
    ("symantec", r"symantec|messagelabs"),
    ("trend_micro", r"trend ?micro"),
    ("fortinet", r"forti(?:guard|mail|net)"),
    ("sophos", r"sophos"),
    ("link_preview", r"facebookexternalhit|slackbot|slack-imgproxy|twitterbot|linkedinbot|whatsapp|telegrambot|discordbot|embedly|applebot"),
    ("headless_browser", r"headlesschrome|phantomjs|puppeteer|playwright"),
    ("http_library", r"python-requests|python-urllib|python-httpx|aiohttp|curl/|wget/|go-http-client|okhttp|java/|libwww-perl|axios/|node-fetch"),
    ("crawler", r"(?:bot|crawler|spider)(?:[/;)+-]|$)|slurp|linkpreview|urlscan"),
]
_SCANNER_RE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in SCANNERS), re.IGNORECASE)
_SAFE_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9._:@~+-]{1,400}$")

def bot_reason(method: str, user_agent: str) -> str | None:
    """Why a request is a machine's, not a person's, or None."""
    if method == "HEAD":
        return "head_request"
    if not user_agent.strip():
        return "no_user_agent"
    match = _SCANNER_RE.search(user_agent)
    return match.lastgroup if match else None


def _forwarded(settings: Settings, header: str) -> str | None:
    """The value the outermost trusted proxy saw, or None when proxies are not trusted."""
    if settings.trusted_proxies <= 0:
        return None
    values = [v.strip() for v in request.headers.get(header, "").split(",") if v.strip()]
    return values[-settings.trusted_proxies] if len(values) >= settings.trusted_proxies else None


def client_ip(settings: Settings) -> str | None:
    return _forwarded(settings, "X-Forwarded-For") or request.remote_addr


def request_scheme(settings: Settings) -> str:
    return (_forwarded(settings, "X-Forwarded-Proto") or request.scheme).lower()


def request_origin(settings: Settings) -> str:
    """This request's own origin as a browser names it in `Origin`."""
    return f"{request_scheme(settings)}://{_forwarded(settings, 'X-Forwarded-Host') or request.host}".lower()


def header_value(name: str) -> str | None:
    value = request.headers.get(name)
    return value[:MAX_HEADER_CHARS] if value else None


def redirect_url(destination: str, click_id: str, carried: dict[str, str]) -> str:
    """The destination with `gdp_click_id` (and carried params it lacks) appended, its own query untouched."""
    parts = urlsplit(destination)
    pairs = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != CLICK_ID_PARAM] if parts.query else []
    present = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = {k: v for k, v in carried.items() if k not in present}
    extra[CLICK_ID_PARAM] = click_id
    query = "&".join(pairs + [urlencode(extra, quote_via=quote)])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _land(row: dict) -> bool:
    try:
        return db.land("click", "click_id", row, timeout=CLICK_DB_TIMEOUT_S)
    except (db.DatabaseUnavailable, Rejected) as exc:
        log.error("click %s not recorded (database: %s); redirecting anyway", row["click_id"], type(exc).__name__)
        return False


@bp.route("/c/", defaults={"token": ""}, methods=["GET", "HEAD"])
@bp.route("/c/<path:token>", methods=["GET", "HEAD"])
def click(token: str) -> Response:
    """Any /c/... path answers a redirect, so a link a mail client cut or mangled still lands somewhere."""
    settings: Settings = current_app.config["GDP_SETTINGS"]
    try:
        link = verify_token(settings.tracking_link_secret, token)
    except InvalidToken as exc:
        log.info("tracked link refused (%s); sending to APP_BASE_URL", exc)
        return _no_store(redirect(settings.app_base_url, 302))

    click_id = uuid.uuid4().hex
    destination_query = dict(parse_qsl(urlsplit(link.url).query, keep_blank_values=True))
    carried = {k: v[:500] for k, v in request.args.items() if (k in UTM_KEYS or k == "fbclid") and v}
    utm = {k: v for k, v in {**destination_query, **carried}.items() if k in UTM_KEYS and v}
    target = redirect_url(link.url, click_id, carried)
    user_agent = header_value("User-Agent") or ""
    reason = bot_reason(request.method, user_agent)
    scheme = request_scheme(settings)
    _land(
        {
            "click_id": click_id,
            "person_id": link.person_id,
            "campaign_id": link.campaign_id,
            "funnel": link.funnel,
            "email_id": link.email_id,
            "destination_url": link.url,
            "ip": client_ip(settings),
            "user_agent": user_agent or None,
            "referrer": header_value("Referer"),
            "fbclid": carried.get("fbclid") or destination_query.get("fbclid") or None,
            "utm": utm,
            "is_bot": reason is not None,
            "bot_reason": reason,
            "payload": {"method": request.method, "scheme": scheme, "redirect_url": target},
        }
    )
    response = _no_store(redirect(target, 302))
    if _SAFE_COOKIE_VALUE.match(link.person_id):
        response.set_cookie(
            PERSON_COOKIE,
            person_cookie_value(settings.tracking_link_secret, link.person_id),
            max_age=COOKIE_MAX_AGE_S,
            path="/",
            domain=settings.tracking_domain or None,
            secure=scheme == "https",
            httponly=False,
            samesite="Lax",
        )
    return response


def _no_store(response: Response) -> Response:
    # Every click must reach the server: a cached redirect would skip the row.
    response.headers["Cache-Control"] = "no-store"
    return response

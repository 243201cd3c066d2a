"""`/unsubscribe`: the link in every activation email's footer and `List-Unsubscribe` header.

GET shows a page with one button (mail scanners prefetch GET links, so a GET
alone never unsubscribes anyone); POST records it, which is also what a mail
client's RFC 8058 one-click unsubscribe sends (`List-Unsubscribe=One-Click`).
The link is signed per (person, campaign), so nobody can unsubscribe someone
else. dbt turns the row into `is_unsubscribed`, which suppresses every email.
"""

from __future__ import annotations

import hashlib
import html
import logging

from flask import Blueprint, Response, current_app, request

from gdp.links import verify_unsubscribe
from ingest_app import db
from ingest_app.errors import Rejected

log = logging.getLogger(__name__)
bp = Blueprint("unsubscribe", __name__)
REQUIRED_SETTINGS = {"tracking_link_secret": "unsubscribe links are verified with it"}

_PAGE = """<!doctype html><meta charset=utf-8><meta name=viewport content="width=device-width">
<title>{title}</title><body style="font:16px system-ui;max-width:32em;margin:4em auto">{body}</body>"""


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(_PAGE.format(title=html.escape(title), body=body), status=status, mimetype="text/html")


def _verified_link() -> tuple[str, str]:
    person_id = request.args.get("p", "")
    campaign_id = request.args.get("c", "")
    token = request.args.get("t", "")
    secret = current_app.config["GDP_SETTINGS"].tracking_link_secret
    if not (person_id and campaign_id and token) or not verify_unsubscribe(secret, person_id, campaign_id, token):
        raise Rejected(400, "unsubscribe link is incomplete or was altered")
    return person_id, campaign_id


@bp.get("/unsubscribe")
def confirm() -> Response:
    try:
        _verified_link()
    except Rejected as exc:
        return _page("Link not valid", f"<p>{html.escape(exc.reason)}.</p>", exc.status)
    action = html.escape(request.full_path, quote=True)
    return _page(
        "Unsubscribe",
        f'<p>Stop receiving these emails?</p><form method=post action="{action}">'
        '<button type=submit>Unsubscribe</button></form>',
    )


@bp.post("/unsubscribe")
def unsubscribe() -> Response:
    person_id, campaign_id = _verified_link()
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    key = hashlib.sha256(f"{person_id}\x1f{campaign_id}".encode()).hexdigest()
    new = db.land(
        "unsubscribe",
        "unsubscribe_id",
        {
            "unsubscribe_id": key,
            "person_id": person_id,
            "campaign_id": campaign_id,
            "method": "one_click" if one_click else "page",
            "user_agent": request.headers.get("User-Agent"),
            "payload": {"campaign_id": campaign_id},
        },
    )
    log.debug("unsubscribe recorded campaign=%s duplicate=%s", campaign_id, not new)
    return _page("Unsubscribed", "<p>You are unsubscribed. You will not receive these emails any more.</p>")

"""Email templates in the repo, rendered per person.

A template is `activation/templates/<name>.yml` with a `subject` and a `body`
written as Jinja text with Markdown-style links `[label](url)`. Every link is
minted by the click tracker (so a click maps to person, campaign and email),
and every email gets an unsubscribe link in its footer and in `List-Unsubscribe`.
The body is written once and produces both the HTML and the text part, so the
two cannot disagree.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml
from jinja2 import ChainableUndefined
from jinja2.sandbox import SandboxedEnvironment

from gdp.links import unsubscribe_url as signed_unsubscribe_url
from gdp.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_ENV = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=512)
def _compiled(source: str):
    """Parsing a template costs more than rendering it; each source is compiled once per process."""
    return _ENV.from_string(source)


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    body: str
    campaign_id: str


@dataclass
class RenderedEmail:
    subject: str
    html: str
    text: str
    campaign_id: str
    unsubscribe_url: str
    links: list[str] = field(default_factory=list)


def template_names(directory: Path = TEMPLATES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yml"))


@lru_cache(maxsize=256)
def load_template(name: str, directory: Path = TEMPLATES_DIR) -> Template:
    if not re.fullmatch(r"[a-z0-9_]+", name or ""):
        raise TemplateError(f"template name {name!r} must be lowercase letters, digits and _")
    path = directory / f"{name}.yml"
    if not path.exists():
        raise TemplateError(f"no email template {name!r} (expected {path.relative_to(directory.parent.parent)})")
    spec = yaml.safe_load(path.read_text()) or {}
    missing = [key for key in ("subject", "body") if not spec.get(key)]
    if missing:
        raise TemplateError(f"template {name!r} lacks {', '.join(missing)}")
    return Template(name, str(spec["subject"]), str(spec["body"]), str(spec.get("campaign_id") or name))


def unsubscribe_url(settings: Settings, person_id: str, campaign_id: str) -> str:
    """Signed when TRACKING_LINK_SECRET is set (always, where the ingest app runs); a bare demo gets a plain link."""
    if settings.tracking_link_secret:
        return signed_unsubscribe_url(settings, person_id, campaign_id)
    query = urlencode({"p": person_id, "c": campaign_id})
    return f"{settings.public_base_url.rstrip('/')}/unsubscribe?{query}"


def default_minter(settings: Settings) -> Callable[..., str]:
    """The click tracker's signed links; without TRACKING_LINK_SECRET (a bare demo) plain UTM-tagged links."""
    from gdp.links import mint_link

    def mint(person_id: str, campaign_id: str, funnel: str, url: str, email_id: str | None = None) -> str:
        if settings.tracking_link_secret:
            return mint_link(settings, person_id, campaign_id, funnel, url, email_id=email_id)
        parts = urlsplit(url)
        query = parse_qsl(parts.query) + [("utm_source", "email"), ("utm_campaign", campaign_id), ("utm_medium", funnel)]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))

    return mint


def _html_paragraph(paragraph: str, links: dict[str, str]) -> str:
    out, last = [], 0
    for match in _LINK.finditer(paragraph):
        out.append(html.escape(paragraph[last:match.start()]))
        label, url = match.group(1), match.group(2)
        out.append(f'<a href="{html.escape(links[url], quote=True)}">{html.escape(label)}</a>')
        last = match.end()
    out.append(html.escape(paragraph[last:]))
    return "<p>" + "".join(out).replace("\n", "<br>") + "</p>"


def render(
    template: Template,
    *,
    settings: Settings,
    person: dict[str, Any],
    features: dict[str, Any],
    context: dict[str, Any],
    funnel: str,
    outbox_key: str,
    minter: Callable[..., str] | None = None,
) -> RenderedEmail:
    minter = minter or default_minter(settings)
    person_id = str(person["person_id"])
    variables = {
        "person": person,
        "features": features,
        "context": context,
        "app_url": settings.app_base_url.rstrip("/"),
        "funnel": funnel,
        "campaign_id": template.campaign_id,
    }
    try:
        subject = " ".join(_compiled(template.subject).render(variables).split())
        body = _compiled(template.body).render(variables).strip()
    except Exception as exc:  # a template bug must name the template, not crash the run anonymously
        raise TemplateError(f"template {template.name!r} failed to render: {exc}") from exc
    links = {url: minter(person_id, template.campaign_id, funnel, url, email_id=outbox_key) for url in dict.fromkeys(m.group(2) for m in _LINK.finditer(body))}
    unsubscribe = unsubscribe_url(settings, person_id, template.campaign_id)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    html_body = "\n".join(_html_paragraph(p, links) for p in paragraphs)
    html_body += (
        f'\n<p style="font-size:12px;color:#888">You get this because you use our product. '
        f'<a href="{html.escape(unsubscribe, quote=True)}">Unsubscribe</a></p>'
    )
    text_body = _LINK.sub(lambda m: f"{m.group(1)}: {links[m.group(2)]}", "\n\n".join(paragraphs))
    text_body += f"\n\n--\nUnsubscribe: {unsubscribe}\n"
    return RenderedEmail(subject, html_body, text_body, template.campaign_id, unsubscribe, list(links.values()))

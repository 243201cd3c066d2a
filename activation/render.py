"""Email templates in the repo, rendered per person into one branded layout.

A template is `activation/templates/<name>.yml` with a `subject`, an optional
`preheader` and a `body` written as Jinja text. Links exist only where a template
calls `{{ link(app_url ~ '/path', 'label') }}`: the helper mints the click tracker's
link (so a click maps to person, campaign and email), and its URL may be built from
string literals and `app_url` only, checked when the template loads. Everything a
variable brings (a name from auth.users, a Stripe customer, a lead) is text: escaped
in the HTML part, never parsed for links or markup in either part, never evaluated.

The body is rendered twice from one source (HTML, then text), so the parts cannot
disagree, and the HTML goes into `activation/layout/base.mjml` (compiled once by
MJML): preheader, brand block, the body, and a footer with the sender's postal
address and the unsubscribe link that `List-Unsubscribe` also carries.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml
from jinja2 import ChainableUndefined, nodes
from jinja2.ext import Extension
from jinja2.lexer import Token
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from gdp.links import unsubscribe_url as signed_unsubscribe_url
from gdp.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
LAYOUT = Path(__file__).resolve().parent / "layout" / "base.mjml"
_OLD_LINK = re.compile(r"\[[^\]]+\]\([^)]+\)")
_LINK_STYLE = "color:#0b57d0;text-decoration:underline"


class _EscapeTemplateText(Extension):
    """The template's own literal text is HTML-escaped too, so an author's `R&D` or `<3` stays text."""

    def filter_stream(self, stream):
        for token in stream:
            if token.type == "data":
                yield Token(token.lineno, "data", html.escape(token.value, quote=False))
            else:
                yield token


_HTML_ENV = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=True, extensions=[_EscapeTemplateText])
_TEXT_ENV = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)


@lru_cache(maxsize=512)
def _compiled(source: str, part: str):
    """Parsing a template costs more than rendering it; each source is compiled once per process and part."""
    return (_HTML_ENV if part == "html" else _TEXT_ENV).from_string(source)


@lru_cache(maxsize=1)
def _layout() -> tuple[str, ...]:
    """MJML compiles the layout once, split at its `%%NAME%%` slots; each email fills them with escaped text."""
    from mjml import mjml2html

    return tuple(re.split(r"(%%[A-Z]+%%)", mjml2html(LAYOUT.read_text())))


class TemplateError(ValueError):
    pass


DEFAULT_EXPIRES_AFTER = timedelta(days=3)
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: object) -> timedelta | None:
    """`30m`, `4h`, `3d` → a timedelta; None when it does not look like one."""
    match = _DURATION.match(str(value))
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}) if match else None


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    body: str
    campaign_id: str
    preheader: str = ""
    # How long after the person qualified the email still makes sense; a capped email waits at most this long.
    expires_after: timedelta = DEFAULT_EXPIRES_AFTER


@dataclass
class RenderedEmail:
    subject: str
    html: str
    text: str
    campaign_id: str
    unsubscribe_url: str
    links: list[str] = field(default_factory=list)
    preheader: str = ""


def template_names(directory: Path = TEMPLATES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yml"))


def _literal_url(node: nodes.Node) -> bool:
    """A link's URL is string literals and `app_url` joined by `~` or `+`: nothing a person can set."""
    if isinstance(node, nodes.Const):
        return isinstance(node.value, str)
    if isinstance(node, nodes.Name):
        return node.name == "app_url"
    if isinstance(node, nodes.Concat):
        return all(_literal_url(n) for n in node.nodes)
    if isinstance(node, nodes.Add):
        return _literal_url(node.left) and _literal_url(node.right)
    return False


def _check_links(name: str, source: str, where: str) -> None:
    if _OLD_LINK.search(source):
        raise TemplateError(f"template {name!r} {where}: write links as {{{{ link(app_url ~ '/path', 'label') }}}}, not [label](url)")
    tree = _TEXT_ENV.parse(source)
    unsafe = [n.lineno for n in tree.find_all(nodes.Filter) if n.name == "safe"]
    unsafe += [n.lineno for n in tree.find_all(nodes.EvalContextModifier) if any(o.key == "autoescape" for o in n.options)]
    if unsafe:
        raise TemplateError(f"template {name!r} {where} line {unsafe[0]}: |safe and autoescape switches would let a variable be markup")
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "link":
            if len(call.args) != 2 or call.kwargs or call.dyn_args or call.dyn_kwargs or not _literal_url(call.args[0]):
                raise TemplateError(
                    f"template {name!r} {where} line {call.lineno}: link(url, label) takes a URL built from "
                    "string literals and app_url only, so no variable can choose where a tracked link goes"
                )


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
    expires_after = parse_duration(spec.get("expires_after", "3d"))
    if expires_after is None:
        raise TemplateError(f"template {name!r}: expires_after {spec.get('expires_after')!r} must look like 12h or 3d")
    template = Template(name, str(spec["subject"]), str(spec["body"]), str(spec.get("campaign_id") or name),
                        str(spec.get("preheader") or ""), expires_after)
    try:
        for where in ("subject", "preheader", "body"):
            _check_links(name, getattr(template, where), where)
    except TemplateError:
        raise
    except Exception as exc:  # a Jinja syntax error names the template
        raise TemplateError(f"template {name!r} does not parse: {exc}") from exc
    return template


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


def brand_name(settings: Settings) -> str:
    """The display name of GDP_EMAIL_FROM ("Growth <hello@…>" → "Growth"), else its domain."""
    display, address = parseaddr(settings.email_from)
    return display or address.partition("@")[2] or settings.email_from


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
    minted: dict[str, str] = {}

    def tracked(url: Any) -> str:
        url = str(url)
        if url not in minted:
            minted[url] = minter(person_id, template.campaign_id, funnel, url, email_id=outbox_key)
        return minted[url]

    def html_link(url: Any, label: Any) -> Markup:
        return Markup('<a href="{}" style="{}">{}</a>').format(tracked(url), _LINK_STYLE, label)

    def text_link(url: Any, label: Any) -> str:
        return f"{label}: {tracked(url)}"

    def no_link(url: Any, label: Any) -> str:
        raise TemplateError("links belong in the body, not the subject or preheader")

    variables = {
        "person": person,
        "features": features,
        "context": context,
        "app_url": settings.app_base_url.rstrip("/"),
        "funnel": funnel,
        "campaign_id": template.campaign_id,
    }
    try:
        subject = _one_line(_compiled(template.subject, "text").render(variables, link=no_link))
        preheader = _one_line(_compiled(template.preheader, "text").render(variables, link=no_link))
        html_body = _compiled(template.body, "html").render(variables, link=html_link)
        text_body = _compiled(template.body, "text").render(variables, link=text_link)
    except Exception as exc:  # a template bug must name the template, not crash the run anonymously
        raise TemplateError(f"template {template.name!r} failed to render: {exc}") from exc
    text_paragraphs = _paragraphs(text_body)
    preheader = preheader or (text_paragraphs[1] if len(text_paragraphs) > 1 else "")[:140]
    unsubscribe = unsubscribe_url(settings, person_id, template.campaign_id)
    brand, address = brand_name(settings), settings.email_postal_address
    content = "\n".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in _paragraphs(html_body))
    footer = Markup(
        '{}<br>{}<br>You get this because you use our product. '
        '<a href="{}" style="color:#5f6670;text-decoration:underline">Unsubscribe</a>'
    ).format(brand, address, unsubscribe)
    filled = {"%%SUBJECT%%": escape(subject), "%%PREHEADER%%": escape(preheader), "%%BRAND%%": escape(brand),
              "%%BODY%%": content, "%%FOOTER%%": footer}
    page = "".join(str(filled[part]) if part in filled else part for part in _layout())
    text = "\n\n".join(text_paragraphs) + f"\n\n--\n{brand}\n{address}\nUnsubscribe: {unsubscribe}\n"
    return RenderedEmail(subject, page, text, template.campaign_id, unsubscribe, list(minted.values()), preheader)

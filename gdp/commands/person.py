"""`gdp person explain <email|person_id>`: who is this, and which source rows say so.

Reads the dbt relations (identity_link, person, event, int_identity__edges,
int_identity__refused_edges), so it explains exactly what the last `gdp refresh` decided:
each edge with its provenance (verified | client_asserted), and the client-asserted edges
touching the person that the identity graph refused, with the reason.
"""

from __future__ import annotations

from collections import Counter, deque

import click
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from gdp import db as gdb
from gdp.commands.forget import forget_command
from gdp.settings import get_settings


class PersonNotFound(click.ClickException):
    pass


def identity_key_for(query: str) -> str:
    """The identity key to look up: an email, a `type:value` key, or a person id."""
    text = query.strip()
    if "@" in text and ":" not in text.split("@", 1)[0]:
        return "email:" + text.lower()
    if ":" in text:
        return text
    return "person_id:" + text


def _fetch(conn, schema: str, query: str, table: str, params=()) -> list[dict]:
    return conn.execute(sql.SQL(query).format(t=sql.Identifier(schema, table)), params).fetchall()


def explain(conn: psycopg.Connection, query: str, schema: str) -> dict:
    key = identity_key_for(query)
    try:
        link = _fetch(conn, schema, "select * from {t} where identity_key = %s", "identity_link", (key,))
    except psycopg.errors.UndefinedTable:
        raise PersonNotFound("identity_link does not exist yet: run `gdp refresh` first") from None
    if not link:
        raise PersonNotFound(f"no identifier {key!r} in identity_link (normalized emails are lowercase)")
    person_id = link[0]["person_id"]
    person = _fetch(conn, schema, "select * from {t} where person_id = %s", "person", (person_id,))
    identifiers = _fetch(
        conn, schema,
        "select * from {t} where person_id = %s order by is_alias, first_seen_at nulls last, identity_key",
        "identity_link", (person_id,),
    )
    keys = [row["identity_key"] for row in identifiers if row["link_type"] != "derived_alias"]
    edges = _fetch(
        conn, schema,
        "select * from {t} where right_key is not null and (left_key = any(%s) or right_key = any(%s))"
        " order by first_seen_at nulls last, left_key, right_key",
        "int_identity__edges", (keys, keys),
    )
    refused = _fetch(
        conn, schema,
        "select * from {t} where left_key = any(%s) or right_key = any(%s)"
        " order by first_seen_at nulls last, left_key, right_key",
        "int_identity__refused_edges", (keys, keys),
    )
    refused_keys = {row["edge_key"] for row in refused}
    edges = [edge for edge in edges if edge["edge_key"] not in refused_keys]
    events = _fetch(
        conn, schema,
        "select event_type, count(*) as n, max(occurred_at) as last_at from {t} where person_id = %s"
        " group by event_type order by n desc, event_type",
        "event", (person_id,),
    )
    return {
        "query_key": key,
        "person_id": person_id,
        "person": person[0] if person else None,
        "identifiers": identifiers,
        "chain": join_chain(identifiers, edges),
        "refused": refused,
        "events": events,
    }


def join_chain(identifiers: list[dict], edges: list[dict]) -> list[dict]:
    """Edges in the order a breadth-first walk from the person's anchor meets them,
    so each line adds one identifier to the ones already shown."""
    anchor = next((i["identity_key"] for i in identifiers if not i["is_alias"]), None)
    adjacency: dict[str, list[dict]] = {}
    for edge in edges:
        adjacency.setdefault(edge["left_key"], []).append(edge)
        adjacency.setdefault(edge["right_key"], []).append(edge)
    seen, ordered, used = {anchor}, [], set()
    queue = deque([anchor])
    while queue:
        node = queue.popleft()
        for edge in adjacency.get(node, []):
            ident = (edge["left_key"], edge["right_key"])
            if ident in used:
                continue
            used.add(ident)
            ordered.append(edge)
            other = edge["right_key"] if edge["left_key"] == node else edge["left_key"]
            if other not in seen:
                seen.add(other)
                queue.append(other)
    ordered += [e for e in edges if (e["left_key"], e["right_key"]) not in used]
    return ordered


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def render(result: dict) -> str:
    lines = []
    person = result["person"] or {}
    lines.append(f"person {result['person_id']}  (looked up by {result['query_key']})")
    if person:
        flags = [name for name in ("is_lead", "is_user", "is_customer", "is_anonymous", "is_quarantined") if person.get(name)]
        lines.append(f"  email {person.get('email') or '-'}  name {person.get('name') or '-'}")
        lines.append(f"  first seen {_when(person.get('first_seen_at'))} via {person.get('first_touch_source') or '-'}"
                     f"  flags: {', '.join(flags) or 'none'}")
    lines.append("identifiers:")
    for row in result["identifiers"]:
        tag = "" if row["link_type"] == "identifier" else f"  [{row['link_type']}]"
        lines.append(f"  {row['identity_key']}{tag}  first {_when(row['first_seen_at'])}  last {_when(row['last_seen_at'])}"
                     f"  proved by {row['proved_by_raw_table']}:{row['proved_by_raw_key']}")
    lines.append("joined by (source rows, first proof of each edge):")
    if not result["chain"]:
        lines.append("  (no edges: a single identifier)")
    for edge in result["chain"]:
        lines.append(f"  {edge['left_key']} <-> {edge['right_key']}  [{edge['provenance']}]"
                     f"  via {edge['raw_table']}:{edge['raw_key']}"
                     f"  first {_when(edge['first_seen_at'])}  last {_when(edge['last_seen_at'])}")
    if result["refused"]:
        lines.append("refused (client-asserted edges that joined nothing):")
    for edge in result["refused"]:
        lines.append(f"  {edge['left_key']} <-> {edge['right_key']}  [{edge['provenance']}]"
                     f"  via {edge['raw_table']}:{edge['raw_key']}  first {_when(edge['first_seen_at'])}"
                     f"  reason: {edge['reason']}")
    total = Counter({row["event_type"]: row["n"] for row in result["events"]})
    lines.append(f"events: {sum(total.values())}")
    for row in result["events"]:
        lines.append(f"  {row['event_type']:<24} {row['n']:>6}  last {_when(row['last_at'])}")
    return "\n".join(lines)


@click.group("person")
def person_group() -> None:
    """Persons as the identity graph resolved them."""


@person_group.command("explain")
@click.argument("who")
def explain_command(who: str) -> None:
    """Print the person behind WHO (an email, a person_id or a type:value key), its
    identifiers, and the source rows that joined them."""
    settings = get_settings()
    with psycopg.connect(gdb.database_url(), row_factory=dict_row) as conn:
        click.echo(render(explain(conn, who, settings.dbt_schema)))


person_group.add_command(forget_command)

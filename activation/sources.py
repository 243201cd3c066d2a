"""What activation reads from dbt's schema: segment definitions, eligibility, profiles.

dbt rebuilds these relations; activation only reads them, and checks that they
exist first so a fresh database gives a clear note instead of a crash. With no
eligibility model nobody is contactable (fail closed): sending to someone who
opted out costs more than a late email.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class SegmentDef:
    segment: str
    funnel: str
    holdout_share: float
    activations: list[dict[str, Any]]


@dataclass(frozen=True)
class Eligibility:
    person_id: str
    email: str | None
    is_contactable: bool
    reason: str | None
    cap_per_day: int | None = None  # dbt vars email_cap_per_day / _per_week, when the model carries them
    cap_per_week: int | None = None


def relation_exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (f'"{schema}"."{name}"',)).fetchone()
    return bool(row and row[0])


def columns(conn: psycopg.Connection, schema: str, name: str) -> set[str]:
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (schema, name),
    ).fetchall()
    return {r[0] for r in rows}


def segment_definitions(conn: psycopg.Connection, schema: str) -> dict[str, SegmentDef] | None:
    """All segments with their activations, or None when dbt has not built `segment` yet."""
    if not relation_exists(conn, schema, "segment"):
        return None
    cols = columns(conn, schema, "segment")
    holdout = sql.Identifier("holdout_share") if "holdout_share" in cols else sql.SQL("0")
    funnel = sql.Identifier("funnel") if "funnel" in cols else sql.SQL("''")
    query = sql.SQL("select segment, {funnel}, {holdout}, activations from {tbl}").format(
        funnel=funnel, holdout=holdout, tbl=sql.Identifier(schema, "segment")
    )
    result = {}
    for segment, funnel_value, share, activations in conn.execute(query).fetchall():
        if isinstance(activations, str):
            activations = json.loads(activations)
        result[segment] = SegmentDef(segment, funnel_value or "", float(share or 0), list(activations or []))
    return result


def eligibility(conn: psycopg.Connection, schema: str, person_ids: Iterable[str]) -> dict[str, Eligibility]:
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    if not relation_exists(conn, schema, "contact_eligibility"):
        return {p: Eligibility(p, None, False, "eligibility_unavailable") for p in ids}
    cols = columns(conn, schema, "contact_eligibility")
    caps = [
        sql.SQL("{} as {}").format(sql.Identifier(c) if c in cols else sql.SQL("null::integer"), sql.Identifier(c))
        for c in ("email_cap_per_day", "email_cap_per_week")
    ]
    query = sql.SQL(
        "select person_id, email, is_contactable, suppression_reason, {}, {} from {} where person_id = any(%s)"
    ).format(*caps, sql.Identifier(schema, "contact_eligibility"))
    found = {
        r[0]: Eligibility(r[0], r[1], bool(r[2]) and bool(r[1]), r[3] or (None if r[1] else "no_email"), r[4], r[5])
        for r in conn.execute(query, (ids,)).fetchall()
    }
    return {p: found.get(p, Eligibility(p, None, False, "unknown_person")) for p in ids}


def _rows_as_dicts(conn: psycopg.Connection, schema: str, name: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not relation_exists(conn, schema, name):
        return {}
    query = sql.SQL("select t.person_id, to_jsonb(t) from {} as t where t.person_id = any(%s)").format(
        sql.Identifier(schema, name)
    )
    return {r[0]: r[1] for r in conn.execute(query, (ids,)).fetchall()}


def profiles(conn: psycopg.Connection, schema: str, person_ids: Iterable[str]) -> dict[str, tuple[dict, dict]]:
    """(person, features) per person, each a dict of whatever columns the marts carry."""
    ids = sorted(set(person_ids))
    persons = _rows_as_dicts(conn, schema, "person", ids)
    features = _rows_as_dicts(conn, schema, "person_features", ids)
    result = {}
    for p in ids:
        person = dict(persons.get(p) or {})
        person["person_id"] = p
        name = person.get("first_name") or person.get("name") or ""
        person["first_name"] = (str(name).split() or [""])[0].strip().title() or None
        result[p] = (person, dict(features.get(p) or {}))
    return result


def recent_events(conn: psycopg.Connection, schema: str, person_id: str, event_types: list[str], since) -> list[str]:
    """Event types from `event` for this person since a time (sequence stop conditions)."""
    if not event_types or not relation_exists(conn, schema, "event"):
        return []
    query = sql.SQL(
        "select distinct event_type from {} where person_id = %s and event_type = any(%s) and occurred_at >= %s"
    ).format(sql.Identifier(schema, "event"))
    return [r[0] for r in conn.execute(query, (person_id, event_types, since)).fetchall()]

"""What activation reads from dbt's schema, by column name: segments, recipients, holdouts, profiles.

Every relation here has an enforced dbt contract (models/marts/activation/ for the
activation-facing marts), so the columns are known; only a relation dbt has not
built yet is checked for, so a fresh database gives a clear note instead of a
crash. With no recipient mart nobody is contactable (fail closed): sending to
someone who opted out costs more than a late email.
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
    priority: int = 100  # meta.priority: lower = more important; wins when frequency caps collide


@dataclass(frozen=True)
class Eligibility:
    """One row of activation_recipient: may this person be emailed, and targeted by ads."""

    person_id: str
    email: str | None
    is_contactable: bool
    reason: str | None
    cap_per_day: int | None = None  # dbt vars email_cap_per_day / _per_week
    cap_per_week: int | None = None
    is_ad_targetable: bool = False
    ad_reason: str | None = None


def relation_exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (f'"{schema}"."{name}"',)).fetchone()
    return bool(row and row[0])


def segment_definitions(conn: psycopg.Connection, schema: str) -> dict[str, SegmentDef] | None:
    """All segments with their activations, or None when dbt has not built `segment` yet."""
    if not relation_exists(conn, schema, "segment"):
        return None
    query = sql.SQL("select segment, funnel, holdout_share, activations, priority from {}").format(sql.Identifier(schema, "segment"))
    result = {}
    for segment, funnel_value, share, activations, priority in conn.execute(query).fetchall():
        if isinstance(activations, str):
            activations = json.loads(activations)
        result[segment] = SegmentDef(segment, funnel_value or "", float(share or 0), list(activations or []),
                                     100 if priority is None else int(priority))
    return result


def eligibility(conn: psycopg.Connection, schema: str, person_ids: Iterable[str]) -> dict[str, Eligibility]:
    """activation_recipient's verdict per person; a person it does not list is reached by nothing."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    if not relation_exists(conn, schema, "activation_recipient"):
        return {p: Eligibility(p, None, False, "eligibility_unavailable", ad_reason="eligibility_unavailable") for p in ids}
    query = sql.SQL(
        """select person_id, email, is_emailable, email_suppression_reason, email_cap_per_day, email_cap_per_week,
                  is_ad_targetable, ad_suppression_reason
           from {} where person_id = any(%s)"""
    ).format(sql.Identifier(schema, "activation_recipient"))
    found = {r[0]: Eligibility(*r) for r in conn.execute(query, (ids,)).fetchall()}
    return {p: found.get(p, Eligibility(p, None, False, "unknown_person", ad_reason="unknown_person")) for p in ids}


def holdouts(conn: psycopg.Connection, schema: str, transition_ids: Iterable[int]) -> set[int]:
    """The entered transitions activation_holdout holds out (rule: models/marts/activation/activation_holdout.sql)."""
    ids = sorted(set(transition_ids))
    if not ids:
        return set()
    query = sql.SQL("select transition_id from {} where is_holdout and transition_id = any(%s)").format(
        sql.Identifier(schema, "activation_holdout")
    )
    return {r[0] for r in conn.execute(query, (ids,)).fetchall()}


def profiles(conn: psycopg.Connection, schema: str, person_ids: Iterable[str]) -> dict[str, tuple[dict, dict]]:
    """(person, features) per person for templates: names from activation_recipient, every person_features column."""
    ids = sorted(set(person_ids))
    persons: dict[str, dict] = {}
    if relation_exists(conn, schema, "activation_recipient"):
        query = sql.SQL("select person_id, email, display_name, first_name from {} where person_id = any(%s)").format(
            sql.Identifier(schema, "activation_recipient")
        )
        persons = {r[0]: {"email": r[1], "name": r[2], "first_name": r[3]} for r in conn.execute(query, (ids,)).fetchall()}
    features: dict[str, dict] = {}
    if relation_exists(conn, schema, "person_features"):
        query = sql.SQL("select f.person_id, to_jsonb(f) from {} as f where f.person_id = any(%s)").format(
            sql.Identifier(schema, "person_features")
        )
        features = {r[0]: r[1] for r in conn.execute(query, (ids,)).fetchall()}
    empty = {"email": None, "name": None, "first_name": None}
    return {p: ({"person_id": p} | persons.get(p, empty), dict(features.get(p) or {})) for p in ids}


def recent_events(conn: psycopg.Connection, schema: str, person_id: str, event_types: list[str], since) -> list[str]:
    """Event types from `event` for this person since a time (sequence stop conditions)."""
    if not event_types or not relation_exists(conn, schema, "event"):
        return []
    query = sql.SQL(
        "select distinct event_type from {} where person_id = %s and event_type = any(%s) and occurred_at >= %s"
    ).format(sql.Identifier(schema, "event"))
    return [r[0] for r in conn.execute(query, (person_id, event_types, since)).fetchall()]

"""The membership ledger: what changed in each segment, per pipeline cycle.

dbt rebuilds `segment_member` from scratch every cycle; activation must act on
*changes* (entered / exited), exactly once, even across crashes and rebuilds.
So each cycle diffs dbt's current `segment_member` against the last recorded
state in `activation.segment_membership` (outside dbt's schema, so it survives a
full rebuild) and appends the differences to `activation.membership_transition`.

Rules kept here:
- One transaction per cycle: a crash leaves nothing half-recorded, and a cycle id
  that already succeeded adds nothing when recorded again.
- When identity resolution merges two persons (an alias row in `identity_link`
  maps the old person_id to the survivor), the old id's membership moves to the
  survivor as ONE `merged` transition, not an exit plus an enter, so nobody gets
  a goodbye and a welcome email for becoming one person.
- Every transition carries the segment's `version_hash`, so a definition change
  shows which version caused it.
- Blast-radius guard: a cycle that moves more than a share of a segment (segments
  of at least `blast_radius_min_size`) or more than `blast_radius_max` persons is
  still recorded, but with `is_held = true`; activation skips held rows until
  `approve()` (`gdp segments approve <segment> <cycle>`) stamps `approved_at`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from gdp.settings import Settings, get_settings

# Serializes ledger writers (Dagster asset, `gdp refresh`, tests) on one database.
_LOCK_KEY = 7_412_005


class LedgerError(RuntimeError):
    """A ledger request that cannot be carried out; the message says why."""


@dataclass
class SegmentChange:
    segment: str
    previous_size: int
    size: int
    entered: int = 0
    exited: int = 0
    merged: int = 0
    is_held: bool = False
    version: str | None = None
    version_changed: bool = False

    @property
    def moved(self) -> int:
        return self.entered + self.exited


@dataclass
class LedgerResult:
    cycle_id: str
    already_recorded: bool = False
    segments: dict[str, SegmentChange] = field(default_factory=dict)

    @property
    def entered(self) -> int:
        return sum(s.entered for s in self.segments.values())

    @property
    def exited(self) -> int:
        return sum(s.exited for s in self.segments.values())

    @property
    def merged(self) -> int:
        return sum(s.merged for s in self.segments.values())

    @property
    def held_segments(self) -> list[str]:
        return sorted(name for name, s in self.segments.items() if s.is_held)

    def summary(self) -> str:
        if self.already_recorded:
            return f"ledger: cycle {self.cycle_id} was already recorded; nothing added"
        line = f"ledger: cycle {self.cycle_id}: {self.entered} entered, {self.exited} exited, {self.merged} merged"
        lines = [line]
        for name in self.held_segments:
            s = self.segments[name]
            lines.append(
                f"  HELD {name}: {s.moved} moved of {s.previous_size} "
                f"(approve with: gdp segments approve {name} {self.cycle_id})"
            )
        for name, s in sorted(self.segments.items()):
            if s.version_changed:
                lines.append(f"  definition of {name} changed → version {s.version}")
        return "\n".join(lines)


def new_cycle_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: UTC time to the second plus a random suffix."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("c%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def is_held(moved: int, previous_size: int, settings: Settings) -> bool:
    """The guard, as one rule: too many persons at once, or too big a share of a real segment."""
    if moved > settings.blast_radius_max:
        return True
    if previous_size >= settings.blast_radius_min_size and moved > settings.blast_radius_share * previous_size:
        return True
    return False


def _relation_exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    row = conn.execute("select to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, name)).fetchone()
    return row[0] is not None


def _alias_query(conn: psycopg.Connection, schema: str) -> sql.Composable | None:
    """old person_id → surviving person_id, from the alias rows of the `identity_link` mart.

    Without an identity_link relation (tests of segments alone), nobody merges.
    """
    if not _relation_exists(conn, schema, "identity_link"):
        return None
    return sql.SQL(
        """
        select distinct identifier_value as old_person_id, person_id as survivor_person_id
        from {}.identity_link
        where identifier_type = 'person_id' and identifier_value <> person_id
        """
    ).format(sql.Identifier(schema))


def record_cycle(
    database_url: str,
    cycle_id: str,
    *,
    dbt_schema: str = "analytics",
    settings: Settings | None = None,
) -> LedgerResult:
    """Append this cycle's transitions and move the recorded membership to dbt's current one."""
    settings = settings or get_settings()
    if not cycle_id or len(cycle_id) > 100:
        raise LedgerError("cycle_id must be a non-empty string of at most 100 characters")
    result = LedgerResult(cycle_id=cycle_id)
    with psycopg.connect(database_url) as conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            status = conn.execute(
                "select status from activation.pipeline_cycle where cycle_id = %s", (cycle_id,)
            ).fetchone()
            if status and status[0] == "succeeded":
                result.already_recorded = True
                return result
            for name in ("segment_member", "segment"):
                if not _relation_exists(conn, dbt_schema, name):
                    raise LedgerError(f"{dbt_schema}.{name} does not exist: run `gdp refresh` (dbt build) first")
            conn.execute(
                """
                insert into activation.pipeline_cycle (cycle_id) values (%s)
                on conflict (cycle_id) do update set status = 'running', finished_at = null
                """,
                (cycle_id,),
            )
            _stage(conn, dbt_schema)
            _diff(conn)
            _fill_result(conn, result, settings)
            _write(conn, cycle_id, result)
            conn.execute(
                "update activation.pipeline_cycle set status = 'succeeded', finished_at = now() where cycle_id = %s",
                (cycle_id,),
            )
    return result


def _stage(conn: psycopg.Connection, schema: str) -> None:
    """Snapshot current, previous and alias sets into temp tables for the diff."""
    s = sql.Identifier(schema)
    conn.execute(
        sql.SQL(
            """
            create temp table ledger_current on commit drop as
            select m.segment, m.person_id, m.qualified_at, coalesce(m.context, '{{}}'::jsonb) as context
            from {}.segment_member as m
            """
        ).format(s)
    )
    conn.execute("create unique index on ledger_current (segment, person_id)")
    conn.execute(
        """
        create temp table ledger_previous on commit drop as
        select segment, person_id, entered_at
        from activation.segment_membership
        """
    )
    conn.execute("create unique index on ledger_previous (segment, person_id)")
    conn.execute(
        sql.SQL("create temp table ledger_version on commit drop as select segment, version_hash from {}.segment").format(s)
    )
    alias = _alias_query(conn, schema)
    if alias is None:
        conn.execute("create temp table ledger_alias (old_person_id text, survivor_person_id text) on commit drop")
    else:
        conn.execute(sql.SQL("create temp table ledger_alias on commit drop as {}").format(alias))


def _diff(conn: psycopg.Connection) -> None:
    """entered / exited / merged rows into temp table ledger_change."""
    conn.execute(
        """
        create temp table ledger_change on commit drop as
        with entered_raw as (
            select c.segment, c.person_id, c.qualified_at, c.context
            from ledger_current as c
            where not exists (
                select 1 from ledger_previous as p where p.segment = c.segment and p.person_id = c.person_id
            )
        ),
        exited_raw as (
            select p.segment, p.person_id
            from ledger_previous as p
            where not exists (
                select 1 from ledger_current as c where c.segment = p.segment and c.person_id = p.person_id
            )
        ),
        merged as (
            -- the old id left, its survivor is in the segment now: one person, not a move
            select distinct on (e.segment, e.person_id)
                e.segment, e.person_id, a.survivor_person_id, c.qualified_at, c.context
            from exited_raw as e
            join ledger_alias as a on a.old_person_id = e.person_id
            join ledger_current as c on c.segment = e.segment and c.person_id = a.survivor_person_id
            order by e.segment, e.person_id, a.survivor_person_id
        ),
        entered as (
            select r.*
            from entered_raw as r
            where not exists (
                select 1 from merged as m where m.segment = r.segment and m.survivor_person_id = r.person_id
            )
        ),
        exited as (
            select r.*
            from exited_raw as r
            where not exists (select 1 from merged as m where m.segment = r.segment and m.person_id = r.person_id)
        ),
        final as (
            select segment, person_id, 'entered' as transition, null::text as merged_into_person_id,
                qualified_at, context
            from entered
            union all
            select segment, person_id, 'exited', null, null, '{}'::jsonb
            from exited
            union all
            select segment, person_id, 'merged', survivor_person_id, qualified_at, context
            from merged
        )
        select * from final
        """
    )


def _fill_result(conn: psycopg.Connection, result: LedgerResult, settings: Settings) -> None:
    rows = conn.execute(
        """
        with names as (
            select segment from ledger_current
            union select segment from ledger_previous
            union select segment from ledger_change
        ),
        last_version as (
            select distinct on (segment) segment, segment_version
            from activation.membership_transition
            where segment_version is not null
            order by segment, transition_id desc
        )
        select
            n.segment,
            (select count(*) from ledger_previous as p where p.segment = n.segment),
            (select count(*) from ledger_current as c where c.segment = n.segment),
            (select count(*) from ledger_change as x where x.segment = n.segment and x.transition = 'entered'),
            (select count(*) from ledger_change as x where x.segment = n.segment and x.transition = 'exited'),
            (select count(*) from ledger_change as x where x.segment = n.segment and x.transition = 'merged'),
            v.version_hash,
            lv.segment_version
        from names as n
        left join ledger_version as v on v.segment = n.segment
        left join last_version as lv on lv.segment = n.segment
        """
    ).fetchall()
    for segment, prev, size, entered, exited, merged, version, last_version in rows:
        change = SegmentChange(segment, prev, size, entered, exited, merged, version=version)
        change.version_changed = bool(last_version and version and last_version != version)
        change.is_held = is_held(change.moved, prev, settings)
        result.segments[segment] = change


def _write(conn: psycopg.Connection, cycle_id: str, result: LedgerResult) -> None:
    held = result.held_segments
    conn.execute(
        """
        insert into activation.membership_transition
            (cycle_id, segment, person_id, transition, merged_into_person_id, segment_version,
             qualified_at, context, is_held)
        select %s, x.segment, x.person_id, x.transition, x.merged_into_person_id, v.version_hash,
            x.qualified_at, x.context, x.segment = any(%s)
        from ledger_change as x
        left join ledger_version as v on v.segment = x.segment
        order by x.segment, x.transition, x.person_id
        on conflict (cycle_id, segment, person_id, transition) do nothing
        """,
        (cycle_id, held),
    )
    # The recorded membership becomes dbt's current one; a merged survivor keeps the
    # earliest entered_at of the ids it absorbed.
    conn.execute(
        """
        insert into activation.segment_membership (segment, person_id, entered_at, cycle_id, context)
        select x.segment, x.merged_into_person_id, min(p.entered_at), %s, '{}'::jsonb
        from ledger_change as x
        join ledger_previous as p on p.segment = x.segment and p.person_id = x.person_id
        where x.transition = 'merged'
        group by x.segment, x.merged_into_person_id
        on conflict (segment, person_id) do update
            set entered_at = least(activation.segment_membership.entered_at, excluded.entered_at)
        """,
        (cycle_id,),
    )
    conn.execute(
        """
        delete from activation.segment_membership as m
        using ledger_change as x
        where x.segment = m.segment and x.person_id = m.person_id and x.transition in ('exited', 'merged')
        """
    )
    conn.execute(
        """
        insert into activation.segment_membership (segment, person_id, entered_at, cycle_id, context)
        select segment, person_id, now(), %s, context
        from ledger_change
        where transition = 'entered'
        """,
        (cycle_id,),
    )
    conn.execute(
        """
        update activation.segment_membership as m
        set context = c.context
        from ledger_current as c
        where c.segment = m.segment and c.person_id = m.person_id and c.context is distinct from m.context
        """
    )


def approve(database_url: str, segment: str, cycle_id: str) -> int:
    """Release the held transitions of one segment in one cycle; returns how many."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            select count(*) filter (where is_held), count(*) filter (where is_held and approved_at is null)
            from activation.membership_transition
            where segment = %s and cycle_id = %s
            """,
            (segment, cycle_id),
        ).fetchone()
        held, pending = rows
        if not held:
            raise LedgerError(f"no held transitions for segment {segment!r} in cycle {cycle_id!r}")
        if not pending:
            raise LedgerError(f"segment {segment!r} in cycle {cycle_id!r} was already approved")
        conn.execute(
            """
            update activation.membership_transition set approved_at = now()
            where segment = %s and cycle_id = %s and is_held and approved_at is null
            """,
            (segment, cycle_id),
        )
        conn.commit()
    return pending

"""`gdp segments ...`: see, explain, preview and release segments.

`preview` is the review aid of a segment pull request: it compiles the SQL in the
working tree against the live marts, builds it into a scratch schema and lists who
would enter and who would exit compared with the live `segment_member`.
"""

from __future__ import annotations

import click
import psycopg
from psycopg import sql

from gdp import db as gdb
from gdp.settings import get_settings


@click.group("segments")
def segments_group() -> None:
    """Segments: list, show, why a person qualifies, preview a change, approve held transitions."""


def _schema() -> str:
    return get_settings().dbt_schema


def _exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    row = conn.execute("select to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, name)).fetchone()
    return row[0] is not None


def _connect() -> psycopg.Connection:
    conn = psycopg.connect(gdb.database_url(), autocommit=True)
    if not _exists(conn, _schema(), "segment"):
        conn.close()
        raise click.ClickException(f"{_schema()}.segment does not exist: run `gdp refresh` first")
    return conn


def _definition(conn: psycopg.Connection, name: str) -> dict:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    row = cur.execute(
        sql.SQL("select * from {}.segment where segment = %s").format(sql.Identifier(_schema())), (name,)
    ).fetchone()
    if row is None:
        names = [r[0] for r in conn.execute(sql.SQL("select segment from {}.segment order by 1").format(sql.Identifier(_schema())))]
        raise click.ClickException(f"no segment named {name!r}; known: {', '.join(names) or 'none'}")
    return row


def _last_cycle(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "select cycle_id from activation.pipeline_cycle where status = 'succeeded' order by started_at desc, cycle_id desc limit 1"
    ).fetchone()
    return row[0] if row else None


def _table(rows: list[tuple], headers: tuple[str, ...]) -> str:
    cells = [tuple("" if v is None else str(v) for v in row) for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


@segments_group.command("list")
def list_segments() -> None:
    """Every segment: funnel, size, and what the last cycle moved."""
    with _connect() as conn:
        cycle = _last_cycle(conn)
        rows = conn.execute(
            sql.SQL(
                """
                with sizes as (
                    select segment, count(*) as size from {schema}.segment_member group by segment
                ),
                moves as (
                    select segment,
                        count(*) filter (where transition = 'entered') as entered,
                        count(*) filter (where transition = 'exited') as exited,
                        count(*) filter (where transition = 'merged') as merged,
                        count(*) filter (where is_held and approved_at is null) as held
                    from activation.membership_transition
                    where cycle_id = %s
                    group by segment
                )
                select s.segment, s.funnel, coalesce(z.size, 0), coalesce(m.entered, 0), coalesce(m.exited, 0),
                    coalesce(m.merged, 0), case when m.held > 0 then 'HELD ' || m.held end
                from {schema}.segment as s
                left join sizes as z using (segment)
                left join moves as m using (segment)
                order by s.funnel, s.priority, s.segment
                """
            ).format(schema=sql.Identifier(_schema())),
            (cycle,),
        ).fetchall()
    click.echo(f"last cycle: {cycle or 'none recorded yet'}")
    click.echo(_table(rows, ("segment", "funnel", "size", "entered", "exited", "merged", "held")))


@segments_group.command("show")
@click.argument("name")
@click.option("--cycles", default=5, show_default=True, help="How many recent cycles to show.")
def show(name: str, cycles: int) -> None:
    """One segment: its definition, activations, size and recent cycles."""
    with _connect() as conn:
        d = _definition(conn, name)
        size = conn.execute(
            sql.SQL("select count(*) from {}.segment_member where segment = %s").format(sql.Identifier(_schema())),
            (name,),
        ).fetchone()[0]
        history = conn.execute(
            """
            select cycle_id,
                count(*) filter (where transition = 'entered'),
                count(*) filter (where transition = 'exited'),
                count(*) filter (where transition = 'merged'),
                case when bool_or(is_held) then
                    case when bool_and(approved_at is not null or not is_held) then 'approved' else 'HELD' end
                end,
                max(segment_version)
            from activation.membership_transition
            where segment = %s
            group by cycle_id
            order by max(transition_id) desc
            limit %s
            """,
            (name, cycles),
        ).fetchall()
    click.echo(f"{d['segment']}  ({d['funnel']}, owner {d['owner']}, priority {d['priority']})")
    click.echo(f"  {d['description']}")
    click.echo(f"  file: {d['model_path']}   version: {d['version_hash']}   holdout: {d['holdout_share']}")
    click.echo("  activations:")
    for activation in d["activations"]:
        rest = ", ".join(f"{k}={v}" for k, v in activation.items() if k != "channel")
        click.echo(f"    - {activation['channel']}" + (f" ({rest})" if rest else ""))
    click.echo(f"  members now: {size}")
    if history:
        click.echo(_table(history, ("cycle", "entered", "exited", "merged", "guard", "version")))
    else:
        click.echo("  no cycle recorded for it yet")


def _resolve_person(conn: psycopg.Connection, who: str) -> str:
    """An email or any person id (current or alias) → the canonical person_id."""
    schema = sql.Identifier(_schema())
    value = who.strip()
    if not value:
        raise click.ClickException("give an email or a person_id")
    if _exists(conn, _schema(), "identity_link"):
        kind = "email" if "@" in value else "person_id"
        row = conn.execute(
            sql.SQL(
                "select person_id from {}.identity_link where identifier_type = %s and identifier_value = %s limit 1"
            ).format(schema),
            (kind, value.lower() if kind == "email" else value),
        ).fetchone()
        if row:
            return row[0]
    if "@" in value:
        raise click.ClickException(f"no person with email {value!r}")
    return value


@segments_group.command("why")
@click.argument("name")
@click.argument("who")
def why(name: str, who: str) -> None:
    """The rows that qualify a person (email or person_id) for a segment, or the condition that keeps them out."""
    with _connect() as conn:
        d = _definition(conn, name)
        person_id = _resolve_person(conn, who)
        schema_name, relation = d["relation_name"].split(".", 1)
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        rows = cur.execute(
            sql.SQL("select * from {}.{} where person_id = %s").format(
                sql.Identifier(schema_name), sql.Identifier(relation)
            ),
            (person_id,),
        ).fetchall()
        history = conn.execute(
            """
            select cycle_id, transition, merged_into_person_id, recorded_at, is_held, approved_at is not null
            from activation.membership_transition
            where segment = %s and (person_id = %s or merged_into_person_id = %s)
            order by transition_id
            """,
            (name, person_id, person_id),
        ).fetchall()
        reason = None
        if not rows:
            from ledger.why import compiled_segment_sql, why_not

            reason = why_not(conn, compiled_segment_sql(gdb.database_url(), name), person_id)
    click.echo(f"{name}: {d['description']}")
    if rows:
        click.echo(f"person {person_id} qualifies; the segment's row(s):")
        for row in rows:
            for key, value in row.items():
                click.echo(f"  {key}: {value}")
    else:
        if reason.condition:
            click.echo(f"person {person_id} is not in {name}: the condition that fails is\n  {reason.condition}")
        elif not reason.in_base_rows:
            click.echo(f"person {person_id} is not in {name}: not among the rows the segment starts from "
                       f"(its joins or source filter), before any of its conditions")
        else:
            click.echo(f"person {person_id} is not in {name}, yet meets each condition: the segment was built "
                       f"before their latest data; `gdp refresh` rebuilds it")
    if history:
        click.echo("ledger:")
        click.echo(_table(history, ("cycle", "transition", "merged_into", "recorded_at", "held", "approved")))


@segments_group.command("approve")
@click.argument("name")
@click.argument("cycle_id")
def approve_command(name: str, cycle_id: str) -> None:
    """Release transitions the blast-radius guard held, so activation acts on them."""
    from ledger.membership import LedgerError, approve

    try:
        released = approve(gdb.database_url(), name, cycle_id)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"approved {released} held transitions of {name} in cycle {cycle_id}")


@segments_group.command("preview")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, help="How many persons to list per side.")
def preview(name: str, limit: int) -> None:
    """Who would enter and exit if the working-tree SQL of NAME replaced what is live."""
    from ledger.preview import PreviewError, preview_segment

    try:
        result = preview_segment(gdb.database_url(), name, limit=limit)
    except PreviewError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.report())

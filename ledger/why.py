"""Why a person is not in a segment: the first of its SQL conditions that drops them.

A segment is SQL, so the honest answer is in its own WHERE clauses. The segment's
compiled SQL (from the last dbt build, or compiled now) is split into its top-level
`and` conditions; with every condition switched off the person must be in the rows
the segment starts from, and switching them back on one by one, in the order they
are written, the first that removes the person is the one that failed. The
queries run read-only against the live marts.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from gdp.settings import REPO_ROOT, Settings, get_settings

_WORD = re.compile(r"[a-z_]+")
_DATABASE_PART = re.compile(r'"[^"]+"\."([^"]+)"\."([^"]+)"')
_ENDS = ("group", "order", "having", "limit", "union", "window", "offset", "except", "intersect", "fetch")


@dataclass(frozen=True)
class Condition:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class WhyNot:
    condition: str | None  # the first condition that drops the person; None when none does
    in_base_rows: bool  # False: not even in the rows the segment starts from (its joins)


def conditions(compiled: str) -> list[Condition]:
    """Top-level `and` conditions of every WHERE clause, with their spans in the SQL."""
    text = compiled.lower()
    out: list[Condition] = []
    i, n = 0, len(text)
    while i < n:
        i = _skip_literal(text, i)
        if i >= n:
            break
        if text.startswith("where", i) and _boundary(text, i, 5):
            i = _split_where(compiled, text, i + 5, out)
        else:
            i += 1
    return out


def _boundary(text: str, i: int, length: int) -> bool:
    before = text[i - 1] if i else " "
    after = text[i + length] if i + length < len(text) else " "
    return not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")


def _skip_literal(text: str, i: int) -> int:
    """Past a quoted string or a comment starting at i (else i unchanged)."""
    if text[i] in "'\"":
        quote, j = text[i], i + 1
        while j < len(text) and text[j] != quote:
            j += 1
        return j + 1
    if text.startswith("--", i):
        j = text.find("\n", i)
        return len(text) if j < 0 else j
    if text.startswith("/*", i):
        j = text.find("*/", i)
        return len(text) if j < 0 else j + 2
    return i


def _split_where(original: str, text: str, i: int, out: list[Condition]) -> int:
    depth, start, between, case = 0, i, False, 0
    n = len(text)
    while i < n:
        j = _skip_literal(text, i)
        if j != i:
            i = j
            continue
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (m := _WORD.match(text, i)) and _boundary(text, i, len(m.group())):
            word = m.group()
            if word in _ENDS or word in ("select", "from"):
                break
            if word == "case":
                case += 1
            elif word == "end" and case:
                case -= 1
            elif word == "between":
                between = True
            elif word == "and" and not case:
                if between:
                    between = False
                else:
                    _add(original, start, i, out)
                    start = i + 3
            i += len(word)
            continue
        i += 1
    _add(original, start, i, out)
    return i


def _add(original: str, start: int, end: int, out: list[Condition]) -> None:
    piece = original[start:end]
    if piece.strip():
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece.rstrip())
        out.append(Condition(start + lead, start + trail, " ".join(piece.split())))


def _with_only(compiled: str, conds: list[Condition], enabled: int) -> str:
    """The SQL with the first `enabled` conditions kept and the rest switched to true."""
    out, last = [], 0
    for k, c in enumerate(conds):
        out.append(compiled[last:c.start])
        out.append(compiled[c.start:c.end] if k < enabled else "true")
        last = c.end
    out.append(compiled[last:])
    return "".join(out)


def _qualifies(conn: psycopg.Connection, query: str, person_id: str) -> bool:
    # The segment's own % (e.g. in a LIKE) is doubled so psycopg leaves it alone.
    wrapped = sql.SQL("select exists (select 1 from ({}) as segment_rows where person_id = %s)").format(
        sql.SQL(query.replace("%", "%%")))
    return conn.execute(wrapped, (person_id,)).fetchone()[0]


def why_not(conn: psycopg.Connection, compiled: str, person_id: str) -> WhyNot:
    conds = conditions(compiled)
    if not _qualifies(conn, _with_only(compiled, conds, 0), person_id):
        return WhyNot(None, in_base_rows=False)
    for k, c in enumerate(conds):
        if not _qualifies(conn, _with_only(compiled, conds, k + 1), person_id):
            return WhyNot(c.text, in_base_rows=True)
    return WhyNot(None, in_base_rows=True)


def compiled_segment_sql(url: str, name: str, settings: Settings | None = None) -> str:
    """The segment's SQL as the last `dbt build` compiled it, or compiled now when there is none."""
    built = sorted((REPO_ROOT / "target" / "compiled").glob(f"*/models/segments/*/{name}.sql"))
    if built:
        # Refs compile to "database"."schema"."relation"; the database is whichever the last build used, and
        # Postgres reads only the connected one, so drop it.
        return _DATABASE_PART.sub(r'"\1"."\2"', built[0].read_text())
    from ledger.preview import _compiled_sql

    with tempfile.TemporaryDirectory(prefix="gdp-why-") as target:
        return _compiled_sql(url, name, Path(target), settings or get_settings())

"""Outbound leads from a CSV into `raw.lead`, one row per normalized email.

Re-importing the same (or a corrected) file is safe: a known email is updated,
never duplicated. An empty cell does not erase what an earlier import stored,
because CRM exports often leave columns blank that another export filled.
Rows that cannot be imported are reported with their line number and skipped,
unless `strict`, where one bad row means nothing is stored. A file that repeats an
email keeps its last row and reports each earlier one it replaced (CRM exports
repeat a contact per deal or list).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ingest_app.imports.deals import InvalidInput, normalize_email
from ingest_app.landing import land

FIELDS = ("name", "company", "owner", "source")


class LeadsFileError(ValueError):
    """The file as a whole cannot be read as leads."""


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    forgotten: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    # (line, email, line that replaced it) for each row a later row of the same email replaced
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.invalid)} invalid"
        ) + (f", {len(self.duplicates)} duplicate rows (the last row of each email kept)" if self.duplicates else "") + (
            f", {self.forgotten} forgotten (not stored)" if self.forgotten else "")


@dataclass
class LeadRow:
    line: int
    email: str
    values: dict[str, str | None]
    raw: dict[str, str]


def read_leads(path: Path) -> tuple[list[LeadRow], list[tuple[int, str]], list[tuple[int, str, int]]]:
    """Valid rows (last one wins for a repeated email), (line, reason) for the invalid ones, and
    (line, email, replacing line) for each row a later row of the same email replaced."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")  # -sig: spreadsheet exports start with a BOM
    except OSError as exc:
        raise LeadsFileError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            raise LeadsFileError(f"{path} is not a UTF-8 CSV file: {exc}") from None
        if not header:
            raise LeadsFileError(f"{path} is empty")
        names = {h: (h or "").strip().lower() for h in header}
        if "email" not in names.values():
            raise LeadsFileError(f"{path} has no 'email' column (columns: {', '.join(h for h in header if h)})")
        rows: dict[str, LeadRow] = {}
        invalid: list[tuple[int, str]] = []
        duplicates: list[tuple[int, str, int]] = []
        line = reader.line_num
        try:
            for record in reader:
                # The line a record ends on: its own line unless a quoted cell spans lines.
                start = line = reader.line_num
                fields = {names[k]: (v or "").strip() for k, v in record.items() if k is not None}
                if None in record:
                    invalid.append((start, "more cells than columns"))
                    continue
                try:
                    email = normalize_email(fields.get("email"))
                except InvalidInput as exc:
                    invalid.append((start, str(exc)))
                    continue
                values = {name: fields.get(name) or None for name in FIELDS}
                if email in rows:
                    duplicates.append((rows[email].line, email, start))
                rows[email] = LeadRow(start, email, values, {k: v for k, v in fields.items() if k})
        except (csv.Error, UnicodeDecodeError) as exc:
            raise LeadsFileError(f"{path}: line {line + 1} cannot be read: {exc}") from None
    return list(rows.values()), invalid, duplicates


# An empty cell keeps what an earlier import stored; an unchanged row is not rewritten.
_MERGE = """do update set
    name = coalesce(excluded.name, existing.name),
    company = coalesce(excluded.company, existing.company),
    owner = coalesce(excluded.owner, existing.owner),
    source = coalesce(excluded.source, existing.source),
    payload = excluded.payload,
    imported_at = now()
where (existing.name, existing.company, existing.owner, existing.source) is distinct from
      (coalesce(excluded.name, existing.name), coalesce(excluded.company, existing.company),
       coalesce(excluded.owner, existing.owner), coalesce(excluded.source, existing.source))"""


def import_leads(conn: psycopg.Connection, path: Path, *, strict: bool = False) -> ImportReport:
    """Upsert every valid row in one transaction; see the module docstring for the rules."""
    rows, invalid, duplicates = read_leads(path)
    report = ImportReport(invalid=invalid, duplicates=duplicates)
    if strict and invalid:
        return report
    batch = [
        {"email": row.email, **{f: row.values[f] for f in FIELDS}, "payload": {"file": path.name, "line": row.line, "row": row.raw}}
        for row in rows
    ]
    with conn.transaction():
        landed = land(conn, "lead", "email", batch, on_conflict=_MERGE)
    report.inserted, report.updated = landed.new, landed.updated
    report.unchanged = len(batch) - landed.new - landed.updated - landed.forgotten
    report.forgotten = landed.forgotten
    return report

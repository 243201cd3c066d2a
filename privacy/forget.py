"""The right to be forgotten: `gdp person forget <email|person_id>`.

What it does, in this order, so that a failure leaves the person fully present
(and the command can simply be run again) rather than half forgotten:

1. Who: the given identifier, and when dbt has built `identity_link`, every person
   id it resolves to and every identifier of those persons (emails, PostHog
   distinct ids, Stripe customers, app user ids, fbp/fbc, aliases).
2. Meta: each Custom Audience this system added the person to
   (`activation.audience_member`, removed_at null) gets a DELETE of the exact hashed
   row that was added (kept in the add's outbox payload), through activation's
   `MetaClient`. Without META_ACCESS_TOKEN the command stops here: deleting the
   membership record would lose the only note that Meta still holds the person.
3. One transaction: delete every row that names one of the identifiers, anywhere
   in the row (any JSON string equal to an identifier or its SHA-256; an email also
   inside longer strings such as `Ada <ada@x.org>`), from every table of `raw`, of
   `activation` (outbox, email_send, audience_member, sequence state, ledger
   transitions and their processed marks, ...) and every table dbt built in the
   analytics schema (views follow raw by themselves; incremental tables would keep
   their rows, so they are deleted directly). Each landing deleted from raw is
   recorded in raw.forgotten_landing (table, landing id, received_at, request id:
   no personal data), from which the Spark raw copy deletes it in the parquet copies
   on its next run (gdp/raw_copy.py `apply_forgotten`; Spark's dbt models are then
   rebuilt from those). Then a tombstone per identifier:
   raw.forgotten_identifier(identifier_hash = sha256(normalized identifier)).
   The segment-preview scratch schema (`<dbt_schema>_preview`, ledger/preview.py)
   is scrubbed the same way.
4. Dry-run previews under GDP_DATA_DIR/outbox-preview lose the files and lines
   that name the person.

Landing afterwards: every writer of raw lands through ingest_app/landing.py, which
hashes every string in a row (`landing_hashes`) and drops (the app acknowledges 200
without storing) a row that contains a tombstoned one, so retries, backfills and new
deliveries do not bring the person back. Deleting scans whole tables: it is an occasional operator task, not a
request-path one.

The app account: with SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, step 2 also deletes
each matching `auth.users` account through the Supabase Auth admin API (a failure
stops before anything is deleted, so the command can run again). Without them the
account stays and the summary says so; dbt then resolves it again on every build,
and the rule in models/intermediate/privacy/int_privacy__forgotten_persons.sql
keeps that person out of `person`, `contact_eligibility` and activation.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from activation.http import ProviderError, RetryingClient
from gdp.http import parse_retry_after
from gdp.raw_copy import FORGOTTEN_LANDINGS, landed_tables
from gdp.settings import Settings, get_settings
from ingest_app.landing import EMAIL_RE, identifier_hash

SKIP_RAW_TABLES = {"forgotten_identifier", FORGOTTEN_LANDINGS, "posthog_pull_cursor"}


class ForgetError(RuntimeError):
    pass


def normalize(identifier_type: str, value: str) -> str:
    """The same rules as dbt's normalize_identifier: emails trimmed, `Name <addr>` unwrapped, lowercased."""
    value = value.strip()
    if identifier_type == "email":
        match = re.search(r"<([^<>]+)>", value)
        return (match.group(1) if match else value).strip().lower()
    return value


def parse_identifier(text: str) -> tuple[str, str]:
    text = (text or "").strip()
    if not text:
        raise ForgetError("give an email address or a person_id")
    if "@" in text:
        email = normalize("email", text)
        if not EMAIL_RE.fullmatch(email):
            raise ForgetError(f"{text!r} is not an email address")
        return "email", email
    return "person_id", text


# --- forgetting ----------------------------------------------------------------------


@dataclass
class ForgetReport:
    request_id: str
    identifiers: Counter = field(default_factory=Counter)  # type -> count (never the values)
    person_ids: int = 0
    deleted: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    audiences: list[tuple[str, str, int]] = field(default_factory=list)  # (audience, meta id, rows removed)
    previews: int = 0
    tombstones: int = 0
    auth_users_deleted: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted.values())

    def summary(self) -> str:
        ids = ", ".join(f"{n} {t}" for t, n in sorted(self.identifiers.items()))
        lines = [f"forget request {self.request_id}: {ids} ({self.person_ids} person ids)"]
        for table, n in sorted(self.deleted.items()):
            if n:
                lines.append(f"  deleted {n:>6} rows from {table}")
        if not self.total_deleted:
            lines.append("  no stored rows named this person")
        for audience, meta_id, n in self.audiences:
            lines.append(f"  removed {n} row(s) from Meta audience {audience} ({meta_id})")
        if self.auth_users_deleted:
            lines.append(f"  deleted {self.auth_users_deleted} Supabase auth user(s) (app account)")
        if self.previews:
            lines.append(f"  scrubbed {self.previews} dry-run preview file(s)/line(s)")
        lines.append(f"  tombstones recorded: {self.tombstones} (later deliveries naming them are dropped)")
        lines += [f"  WARNING {w}" for w in self.warnings]
        return "\n".join(lines)


def _relation_exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (f'"{schema}"."{name}"',)).fetchone()[0]


def resolve(conn: psycopg.Connection, schema: str, identifier_type: str, value: str) -> tuple[set[tuple[str, str]], set[str]]:
    """(identifiers as (type, normalized value), person ids) of the person behind one identifier."""
    identifiers = {(identifier_type, value)}
    person_ids = {value} if identifier_type == "person_id" else set()
    if _relation_exists(conn, schema, "identity_link"):
        link = sql.Identifier(schema, "identity_link")
        found = conn.execute(
            sql.SQL("""select distinct person_id from {link}
                       where (identifier_type = %s and identifier_value = %s) or person_id = %s""").format(link=link),
            (identifier_type, value, value if identifier_type == "person_id" else None),
        ).fetchall()
        person_ids |= {r[0] for r in found}
        if person_ids:
            rows = conn.execute(
                sql.SQL("select identifier_type, identifier_value from {link} where person_id = any(%s)").format(link=link),
                (sorted(person_ids),),
            ).fetchall()
            identifiers |= {(t, normalize(t, v)) for t, v in rows if v}
    identifiers |= {("person_id", p) for p in person_ids}
    return identifiers, person_ids


def _tables(conn: psycopg.Connection, schema: str) -> list[str]:
    rows = conn.execute(
        """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = %s and c.relkind in ('r', 'p') order by 1""",
        (schema,),
    ).fetchall()
    return [r[0] for r in rows]


def _names_person(alias: str) -> sql.Composable:
    """A predicate: some JSON string in the row equals an identifier (or its hash), or contains one of the emails."""
    return sql.SQL(
        """exists (
            select 1 from jsonb_path_query(to_jsonb({a}), 'strict $.**') as v(item)
            where jsonb_typeof(item) = 'string'
              and (btrim(item #>> '{{}}') = any(%(exact)s) or lower(item #>> '{{}}') ~ %(emails)s)
        )"""
    ).format(a=sql.Identifier(alias))


def _email_regex(emails: list[str]) -> str:
    if not emails:
        return "$^"  # matches nothing
    alternatives = "|".join(re.escape(e) for e in sorted(emails))
    return rf"(^|[^a-z0-9._%+-])({alternatives})($|[^a-z0-9.-])"


def _delete_matching(conn, schema: str, table: str, params: dict) -> int:
    statement = sql.SQL("delete from {t} as r where {pred}").format(t=sql.Identifier(schema, table), pred=_names_person("r"))
    return conn.execute(statement, params).rowcount


def _delete_landings(conn, table: str, params: dict, request_id: str) -> int:
    """Delete from a landing and record each deleted landing (id and arrival only) in
    raw.forgotten_landing, so the Spark copy (gdp/raw_copy.py) deletes it too."""
    statement = sql.SQL(
        """with gone as (delete from {t} as r where {pred} returning r.landing_id, r.received_at)
           insert into {log} (source_table, deleted_landing_id, deleted_received_at, request_id)
           select %(table)s, landing_id, received_at, %(request_id)s from gone"""
    ).format(t=sql.Identifier("raw", table), pred=_names_person("r"), log=sql.Identifier("raw", FORGOTTEN_LANDINGS))
    return conn.execute(statement, {**params, "table": table, "request_id": request_id}).rowcount


def _remove_from_meta(conn, person_ids: list[str], settings: Settings, report: ForgetReport, client=None) -> None:
    members = conn.execute(
        """select m.audience, m.person_id, m.meta_audience_id, o.payload
           from activation.audience_member m left join activation.outbox o on o.outbox_key = m.added_outbox_key
           where m.person_id = any(%s) and m.removed_at is null""",
        (person_ids,),
    ).fetchall()
    if not members:
        return
    by_audience: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for audience, person_id, meta_id, payload in members:
        rows = (payload or {}).get("data") or []
        if not rows:
            from activation.audiences import hashed_row

            rows = [hashed_row({}, person_id)]
        by_audience[(audience, meta_id or "")].extend(rows)
    if client is None:
        from activation.meta import MetaClient

        token = settings.require("meta_access_token", "removing a forgotten person from the Meta audiences this system added them to")
        client = MetaClient(token, settings.meta_graph_base, settings.meta_graph_version, backoff_s=settings.provider_backoff_s)
    try:
        for (audience, meta_id), rows in by_audience.items():
            if not meta_id:
                report.warnings.append(f"audience {audience} has no Meta id on record; remove the person there by hand")
                continue
            client.audience_users(meta_id, rows, remove=True)
            report.audiences.append((audience, meta_id, len(rows)))
    finally:
        client.close()


class SupabaseAuthClient(RetryingClient):
    """Supabase Auth (GoTrue) admin API: `DELETE /auth/v1/admin/users/{id}` with the service role key."""

    provider = "supabase_auth"

    def __init__(self, base_url: str, service_role_key: str, **kwargs):
        super().__init__(base_url, **kwargs)
        self.http.headers.update({"apikey": service_role_key, "Authorization": f"Bearer {service_role_key}"})

    def error_from(self, response) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        name = str(body.get("error_code") or f"http_{response.status_code}")
        message = str(body.get("msg") or body.get("message") or response.text[:200])
        retryable = response.status_code == 429 or response.status_code >= 500
        return ProviderError(self.provider, response.status_code, name, message, retryable,
                             parse_retry_after(response.headers.get("retry-after")))

    def delete_user(self, user_id: str) -> bool:
        """True when deleted, False when Supabase no longer has it (404 user_not_found)."""
        try:
            self.request("DELETE", f"/auth/v1/admin/users/{user_id}")
        except ProviderError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def _app_accounts(conn: psycopg.Connection, emails: list[str], values: list[str]) -> list[str]:
    if not _relation_exists(conn, "auth", "users"):
        return []
    rows = conn.execute(
        "select id::text from auth.users where lower(email) = any(%s) or id::text = any(%s) order by 1", (emails, values)
    ).fetchall()
    return [r[0] for r in rows]


def _delete_app_accounts(user_ids: list[str], settings: Settings, report: ForgetReport) -> None:
    if not (user_ids and settings.supabase_url and settings.supabase_service_role_key):
        return
    client = SupabaseAuthClient(settings.supabase_url, settings.supabase_service_role_key, backoff_s=settings.provider_backoff_s)
    try:
        for user_id in user_ids:
            client.delete_user(user_id)
            report.auth_users_deleted += 1
    except ProviderError as exc:
        raise ForgetError(
            f"the Supabase Auth admin API did not delete the app account ({exc}); nothing else was deleted, "
            "run the command again"
        ) from exc
    finally:
        client.close()


def _scrub_previews(folder: Path, needles: list[str]) -> int:
    """Delete preview files (emails) and jsonl lines (CAPI, audiences, notifications) that name the person."""
    if not folder.is_dir() or not needles:
        return 0
    lowered = [n.lower() for n in needles]
    scrubbed = 0
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if not any(n in text.lower() for n in lowered):
            continue
        if path.suffix == ".jsonl":
            lines = text.splitlines(keepends=True)
            kept = [line for line in lines if not any(n in line.lower() for n in lowered)]
            scrubbed += len(lines) - len(kept)
            path.write_text("".join(kept))
        else:
            path.unlink()
            scrubbed += 1
    return scrubbed


def forget(database_url: str, identifier: str, *, settings: Settings | None = None, meta_client=None) -> ForgetReport:
    """Forget one person everywhere this system stored them; see the module docstring for the order."""
    settings = settings or get_settings()
    identifier_type, value = parse_identifier(identifier)
    report = ForgetReport(request_id=uuid.uuid4().hex[:16])
    schema = settings.dbt_schema
    with psycopg.connect(database_url) as conn:
        identifiers, person_ids = resolve(conn, schema, identifier_type, value)
        report.identifiers = Counter(t for t, _ in identifiers)
        report.person_ids = len(person_ids)
        conn.commit()

        values = sorted({v for _, v in identifiers})
        emails = sorted({v for t, v in identifiers if t == "email"} | {v for v in values if EMAIL_RE.fullmatch(v)})
        _remove_from_meta(conn, sorted(person_ids), settings, report, meta_client)
        accounts = _app_accounts(conn, emails, values)
        conn.commit()
        _delete_app_accounts(accounts, settings, report)

        # dbt keeps identity keys `type:value` (e.g. in event and the identity graph) besides bare values.
        keys = {f"{t}:{v}" for t, v in identifiers}
        exact = sorted(set(values) | keys | {identifier_hash(v) for v in values})
        params = {"exact": exact, "emails": _email_regex(emails)}
        with conn.transaction():
            transitions = [r[0] for r in conn.execute(
                "select transition_id from activation.membership_transition as r where " + _names_person("r").as_string(conn),
                params,
            ).fetchall()]
            if transitions:
                n = conn.execute("delete from activation.transition_processed where transition_id = any(%s)",
                                 (transitions,)).rowcount
                report.deleted["activation.transition_processed"] = n
            landings = landed_tables(conn, "raw")
            for table in _tables(conn, "raw"):
                if table in landings:
                    report.deleted[f"raw.{table}"] = _delete_landings(conn, table, params, report.request_id)
                elif table not in SKIP_RAW_TABLES:
                    report.deleted[f"raw.{table}"] = _delete_matching(conn, "raw", table, params)
            for table in _tables(conn, "activation"):
                if table != "transition_processed":
                    report.deleted[f"activation.{table}"] = _delete_matching(conn, "activation", table, params)
            for scratch in (schema, f"{schema}_preview"):
                for table in _tables(conn, scratch):
                    report.deleted[f"{scratch}.{table}"] = _delete_matching(conn, scratch, table, params)
            with conn.cursor() as cur:
                cur.executemany(
                    """insert into raw.forgotten_identifier (identifier_hash, identifier_type, request_id)
                       values (%s, %s, %s) on conflict (identifier_hash) do nothing""",
                    [(identifier_hash(v), t, report.request_id) for t, v in sorted(identifiers)],
                )
            report.tombstones = len({identifier_hash(v) for _, v in identifiers})
            app_users = len(_app_accounts(conn, emails, values))
            if app_users:
                how = ("Supabase no longer has it: delete this stale row" if settings.supabase_url and settings.supabase_service_role_key
                       else "set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY and run forget again, or delete it in Supabase")
                report.warnings.append(
                    f"auth.users still holds {app_users} account(s) for this person, so the account still exists ({how}); "
                    "until it is gone every build resolves it again, and the person is excluded from person, "
                    "contact_eligibility and activation"
                )
    report.previews = _scrub_previews(settings.data_dir / "outbox-preview", exact + emails)
    return report


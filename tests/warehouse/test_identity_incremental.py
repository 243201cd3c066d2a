"""Incremental identity equals a full rebuild (issue 14): the same raw rows, two builds.

Cycles of arrivals land through the real endpoints; after each, the identity models are built
incrementally in the usual schema and from scratch (`--full-refresh`) in a second one, and every
identity table and identity_link must hold the same rows (every column but the bookkeeping
`written_at` / `last_received_at`). The arrivals cover what the incremental path must get right:
components that join across cycles (a-b, then b-c, then a second person merged in), a late
sighting that changes which identifier is oldest, placeholders, the provenance world of issue 13
(refused client edges, first claims, a later claim stamped earlier), and a component that grows
past the size cap (quarantined) and on.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from gdp.dbt import run_dbt
from tests.dbt_helpers import ingest_client, private_database, rows, send_resend
from tests.warehouse.test_identity_provenance import NOW, attack, emailed, identify, land_world, posthog
from tools.simulate.deliveries import posthog_event, posthog_identify_event

pytestmark = pytest.mark.slow

FULL_SCHEMA = "analytics_identity_full"
SELECT = ("--select", "+identity_link", "+int_identity__refused_edges", "+int_identity__quarantine")
VARS = ("--vars", '{"identity_max_component_size": 7}')
BOOKKEEPING = {"written_at", "last_received_at"}
TABLES = [
    ("int_identity__edges", "edge_key"),
    ("int_identity__nodes", "identity_key"),
    ("int_identity__verified_components", "identity_key"),
    ("int_identity__claims", "claimed_key, claimant_key, edge_key"),
    ("int_identity__anonymous_groups", "verified_component_id"),
    ("int_identity__client_edges", "edge_key"),
    ("int_identity__refused_edges", "edge_key"),
    ("int_identity__components", "node_id"),
    ("int_identity__quarantine", "component_id"),
    ("int_identity__resolved", "identity_key"),
    ("identity_link", "identity_key"),
]


def cycle_1(client, url):
    land_world(client, url)
    send_resend(client, *emailed("em_c1", "a@chain.org", "p_chain_a", NOW - timedelta(days=20), "msg_c1"))
    # Placeholders never link: a test address and PostHog's "undefined" distinct id.
    send_resend(client, *emailed("em_t1", "test@test.com", "p_chain_a", NOW - timedelta(days=19), "msg_t1"))
    posthog(client, [posthog_identify_event("p_chain_b", "undefined", timestamp=NOW - timedelta(days=18))])
    for n in range(4):
        send_resend(client, *emailed(f"em_q{n}", "shared@inbox.org", f"p_shared_{n}", NOW - timedelta(days=15 - n), f"msg_q{n}"))


def cycle_2(client, url):
    # b - c: the chain's email gets an app user and a browser (token identify), a second person
    # identifies a browser of their own, and the shared inbox passes the cap (quarantined).
    identify(client, {"email": "a@chain.org", "distinct_id": "anon-chain-a", "app_user_id": "u-chain-a"})
    posthog(client, [posthog_identify_event("p_chain_b", "anon-chain-b", timestamp=NOW - timedelta(days=10))])
    for n in range(4, 7):
        send_resend(client, *emailed(f"em_q{n}", "shared@inbox.org", f"p_shared_{n}", NOW - timedelta(days=9), f"msg_q{n}"))


def cycle_3(client, url):
    # The second person is emailed at the chain's address: two components become one, the older
    # person's id survives; the attacker of issue 13 strikes; the quarantined inbox grows.
    send_resend(client, *emailed("em_c2", "a@chain.org", "p_chain_b", NOW - timedelta(days=5), "msg_c2"))
    attack(client)
    send_resend(client, *emailed("em_q9", "shared@inbox.org", "p_shared_9", NOW - timedelta(days=2), "msg_q9"))


def cycle_4(client, url):
    # Late data: the chain's browser seen long before anything else (the oldest identifier changes),
    # a claim stamped earlier than the first one (the owner of an anonymous group changes),
    # and a brand-new person linked to nobody.
    posthog(client, [posthog_event("$pageview", "anon-chain-b", {"$current_url": "https://example.com/"},
                                   timestamp=NOW - timedelta(days=60))])
    posthog(client, [posthog_identify_event("p_early", "anon-reader", timestamp=NOW - timedelta(days=30))])
    send_resend(client, *emailed("em_n1", "new-person@example.org", "p_new", NOW - timedelta(hours=1), "msg_n1"))


def snapshot(url: str, schema: str) -> dict[str, list]:
    tables = {}
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        for table, order in TABLES:
            found = conn.execute(f"select * from {schema}.{table} order by {order}").fetchall()
            tables[table] = [{k: v for k, v in row.items() if k not in BOOKKEEPING} for row in found]
    return tables


def dbt(url, target, *args, env=None):
    run = run_dbt([*args], url, target_path=target, env=env)
    assert run.ok, "\n".join(run.failures) or run.output[-4000:]
    return run


@pytest.fixture(scope="module")
def cycles(server_url, settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("identity_incremental")
    with private_database(server_url) as url, ingest_client(settings, url) as client:
        dbt(url, tmp / "incremental", "seed")
        dbt(url, tmp / "full", "seed", env={"GDP_DBT_SCHEMA": FULL_SCHEMA})
        results = []
        for arrive in (cycle_1, cycle_2, cycle_3, cycle_4):
            arrive(client, url)
            dbt(url, tmp / "incremental", "build", *SELECT, *VARS, "--exclude-resource-type", "unit_test")
            dbt(url, tmp / "full", "run", "--full-refresh", *SELECT, *VARS, env={"GDP_DBT_SCHEMA": FULL_SCHEMA})
            results.append((arrive.__name__, snapshot(url, "analytics"), snapshot(url, FULL_SCHEMA)))
        yield {"url": url, "results": results}


def test_every_cycle_the_incremental_identity_equals_a_full_rebuild(cycles):
    for name, incremental, full in cycles["results"]:
        for table, _ in TABLES:
            assert incremental[table] == full[table], f"{table} differs after {name}"


def test_the_cycles_exercise_merges_quarantine_and_late_data(cycles):
    """The comparison above means something: the world does join, split and re-anchor."""
    url = cycles["url"]
    link = {r["identity_key"]: r for r in rows(url, "select * from analytics.identity_link")}
    chain = {link[k]["person_id"] for k in ("email:a@chain.org", "person_id:p_chain_a", "person_id:p_chain_b",
                                             "app_user_id:u-chain-a", "posthog_distinct_id:anon-chain-b")}
    assert len(chain) == 1
    assert link["person_id:p_chain_b"]["is_alias"]
    assert "email:test@test.com" not in link and "posthog_distinct_id:undefined" not in link
    assert link["email:shared@inbox.org"]["is_quarantined"]
    assert link["person_id:p_shared_9"]["person_id"] == "p_shared_9"
    assert rows(url, "select count(*) as n from analytics.int_identity__refused_edges")[0]["n"] >= 3
    last_cycle_written = rows(url, "select count(*) as n from analytics.int_identity__resolved"
                                   " where written_at = (select max(written_at) from analytics.int_identity__resolved)")
    total = rows(url, "select count(*) as n from analytics.int_identity__resolved")
    assert 0 < last_cycle_written[0]["n"] < total[0]["n"], "the last cycle rewrote every identifier: not incremental"

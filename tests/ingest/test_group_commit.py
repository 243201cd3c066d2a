"""Group commit: concurrent deliveries share a commit, and none is acknowledged before the commit holding its row.

To make a batch deterministic, a test connection holds a lock on the raw table: the
first deliveries, one per commit slot, each lead a commit that waits on it; the next
deliveries queue behind them and are committed together once the lock is released.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from gdp.migrate import apply_migrations
from gdp.serve import free_port
from gdp.settings import REPO_ROOT, Settings
from ingest_app.landing import GroupCommit
from privacy.forget import forget
from tests.conftest import TEST_SECRETS
from tests.private_postgres import PrivatePostgres
from tools.simulate.deliveries import resend_delivery, stripe_delivery

SECRET = TEST_SECRETS["resend_webhook_secret"]


def opened(svix_id: str, email: str = "reader@example.com"):
    payload = {"type": "email.opened", "created_at": "2026-11-20T10:00:00Z",
               "data": {"email_id": f"em_{svix_id}", "to": [email], "tags": {"person_id": f"p_{svix_id}"}}}
    return resend_delivery(payload, SECRET, svix_id=svix_id)


def wait_until(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


def waiting_on_lock(url: str, table: str) -> int:
    """How many landing statements into `table` are blocked on a lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and wait_event_type = 'Lock' and query like %s", (f'%insert into raw."{table}"%',)
        ).fetchone()[0]


class Sender:
    """Posts deliveries from their own threads, each noting its answer and whether its row was visible then."""

    def __init__(self, app, url: str):
        self.app, self.url = app, url
        self.pool = ThreadPoolExecutor(max_workers=32)
        self.group = app.extensions["gdp_group_commit"]

    def post(self, delivery, table: str = "resend_event", key: str = "svix_id", key_value: str | None = None):
        def run():
            answer = self.app.test_client().post(delivery.path, data=delivery.body, headers=delivery.headers)
            visible = None
            if answer.status_code == 200:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    visible = conn.execute(f"select count(*) from raw.{table} where {key} = %s",
                                           (key_value or delivery.headers.get("svix-id"),)).fetchone()[0]
            body = answer.get_json()
            body["retry_after"] = answer.headers.get("Retry-After")
            return answer.status_code, body, visible
        return self.pool.submit(run)

    def hold_every_slot(self, make, table: str = "resend_event"):
        """Post `make(i)` once per commit slot, each leading a commit that waits on the table's lock."""
        futures = []
        for i in range(self.group.max_inflight):
            futures.append(self.post(make(i)))
            wait_until(lambda n=i + 1: waiting_on_lock(self.url, table) >= n, f"commit {i + 1} waits on the lock")
        return futures

    def queue(self, deliveries, **kwargs):
        """Post deliveries one after another, each queued before the next is sent (so their order is known)."""
        futures = []
        for delivery in deliveries:
            queued = self.group.waiting + 1
            futures.append(self.post(delivery, **kwargs))
            wait_until(lambda n=queued: self.group.waiting >= n, "the delivery is queued")
        return futures


@pytest.fixture
def sender(app, database_url, clean_raw):
    s = Sender(app, database_url)
    yield s
    s.pool.shutdown(wait=True)


@pytest.fixture
def table_lock(database_url):
    """Hold a lock on raw.<table> that keeps landing inserts waiting until `release()`."""
    holders = []

    def hold(table: str):
        conn = psycopg.connect(database_url)
        conn.execute(f"lock table raw.{table} in share mode")
        holders.append(conn)
        return conn

    yield hold
    for conn in holders:
        conn.close()


def count(conn, table: str = "resend_event") -> int:
    return conn.execute(f"select count(*) from raw.{table}").fetchone()[0]


def test_parallel_deliveries_share_commits_and_each_is_answered_only_after_its_row_committed(
        sender, table_lock, database_url, clean_raw):
    lock = table_lock("resend_event")
    slots = sender.group.max_inflight
    assert slots > 1, "commits run one at a time: a request waits for the WAL flush of the commit before its own"
    first = sender.hold_every_slot(lambda i: opened(f"msg_gc_first_{i}"))
    rest = [sender.post(opened(f"msg_gc_{i}")) for i in range(24 - slots)]
    wait_until(lambda: sender.group.waiting == 24 - slots, "all other deliveries are queued")
    time.sleep(0.3)
    assert not any(f.done() for f in [*first, *rest]), "a delivery was answered before its commit"
    assert count(clean_raw) == 0

    batches_before = sender.group.batches
    lock.commit()
    answers = [f.result(timeout=30) for f in [*first, *rest]]
    assert [status for status, _, _ in answers] == [200] * 24
    assert all(body["duplicate"] is False for _, body, _ in answers)
    assert all(visible == 1 for _, _, visible in answers), "a 2xx came before its row was visible"
    assert count(clean_raw) == 24
    assert sender.group.batches - batches_before <= slots + 1, "the queued deliveries were not committed together"


def test_unbatched_parallel_load_lands_every_acknowledged_row(sender, clean_raw):
    futures = [sender.post(opened(f"msg_par_{i}")) for i in range(200)]
    answers = [f.result(timeout=60) for f in futures]
    assert [status for status, _, _ in answers] == [200] * 200
    assert all(visible == 1 for _, _, visible in answers)
    assert count(clean_raw) == 200


def test_a_redelivery_in_the_same_batch_is_a_duplicate_not_a_second_row(sender, table_lock, database_url, clean_raw):
    lock = table_lock("resend_event")
    blockers = sender.hold_every_slot(lambda i: opened(f"msg_gc_blocker_{i}"))
    same = opened("msg_gc_twice")
    twice = sender.queue([same, opened("msg_gc_other"), same])
    lock.commit()
    assert [f.result(timeout=30)[0] for f in blockers] == [200] * len(blockers)
    answers = [f.result(timeout=30) for f in twice]
    assert [status for status, _, _ in answers] == [200, 200, 200]
    # The two copies may share a batch or race in two slots: either way one is new, one a duplicate.
    assert sorted([answers[0][1]["duplicate"], answers[2][1]["duplicate"]]) == [False, True]
    assert answers[1][1]["duplicate"] is False
    assert clean_raw.execute("select count(*) from raw.resend_event where svix_id = 'msg_gc_twice'").fetchone()[0] == 1
    assert count(clean_raw) == len(blockers) + 2


def test_tombstoned_identifiers_in_a_batch_are_dropped_and_the_rest_land(
        sender, table_lock, database_url, settings, clean_raw):
    assert forget(database_url, "ada.gone@example.org", settings=settings).tombstones == 1
    lock = table_lock("resend_event")
    blockers = sender.hold_every_slot(lambda i: opened(f"msg_gc_blocker_{i}"))
    batch = sender.queue([opened("msg_gc_ada1", "Ada <ADA.gone@example.org>"), opened("msg_gc_bob", "bob@example.org"),
                          opened("msg_gc_ada2", "ada.gone@example.org"), opened("msg_gc_eve", "eve@example.org")])
    lock.commit()
    assert [f.result(timeout=30)[0] for f in blockers] == [200] * len(blockers)
    answers = [f.result(timeout=30) for f in batch]
    assert [status for status, _, _ in answers] == [200] * 4, "a forgotten person's delivery is still acknowledged"
    stored = {r[0] for r in clean_raw.execute("select svix_id from raw.resend_event")}
    assert stored == {*(f"msg_gc_blocker_{i}" for i in range(len(blockers))), "msg_gc_bob", "msg_gc_eve"}
    assert clean_raw.execute("select count(*) from raw.resend_event where payload::text ilike '%ada.gone%'").fetchone()[0] == 0


def test_a_row_postgres_refuses_fails_only_its_own_request(database_url, clean_raw):
    """A NUL character cannot be stored: that request fails, the others in its batch land."""
    pool = ConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=True)
    group = GroupCommit(pool, max_inflight=1)  # one slot: the three requests queue behind the blocker
    lock = psycopg.connect(database_url)
    try:
        lock.execute("lock table raw.lead in share mode")
        with ThreadPoolExecutor(max_workers=4) as workers:
            blocker = workers.submit(group.land, "lead", "email", {"email": "first@example.org", "payload": {}})
            wait_until(lambda: waiting_on_lock(database_url, "lead"), "the first commit waits on the lock")
            futures = []
            for email, name in (("good1@example.org", "Good"), ("bad@example.org", "x\u0000"), ("good2@example.org", "Fine")):
                futures.append(workers.submit(group.land, "lead", "email", {"email": email, "name": name, "payload": {}}))
                queued = len(futures)
                wait_until(lambda n=queued: group.waiting == n, "the request is queued")
            lock.commit()
            assert blocker.result(timeout=30).new == 1
            assert futures[0].result(timeout=30).new == 1
            with pytest.raises(psycopg.DataError):
                futures[1].result(timeout=30)
            assert futures[2].result(timeout=30).new == 1
    finally:
        lock.close()
        pool.close()
    stored = {r[0] for r in clean_raw.execute("select email from raw.lead")}
    assert stored == {"first@example.org", "good1@example.org", "good2@example.org"}


@pytest.fixture
def private_pg():
    pg = PrivatePostgres()
    apply_migrations(pg.url)
    yield pg
    pg.close()


@pytest.mark.slow
def test_an_outage_mid_batch_answers_503_to_every_request_in_it_and_stores_nothing_of_it(private_pg):
    from ingest_app import create_app

    url = private_pg.url
    app = create_app(Settings(db_timeout_s=1.0, **TEST_SECRETS), {"TESTING": True, "DATABASE_URL": url})
    sender = Sender(app, url)
    # One slot: the three queued deliveries are one batch (with more, a freed slot could split them).
    sender.group.max_inflight = 1
    resend_lock, stripe_lock = psycopg.connect(url), psycopg.connect(url)
    try:
        resend_lock.execute("lock table raw.resend_event in share mode")
        stripe_lock.execute("lock table raw.stripe_event in share mode")
        blocker = sender.post(opened("msg_out_blocker"))
        wait_until(lambda: waiting_on_lock(url, "resend_event"), "the first commit waits on the lock")
        charge = stripe_delivery({"id": "evt_out_1", "type": "customer.updated", "created": 1763632800,
                                  "data": {"object": {"id": "cus_1", "object": "customer"}}},
                                 TEST_SECRETS["stripe_webhook_secret"])
        deliveries = [opened("msg_out_1"), opened("msg_out_2"), charge]
        batch = sender.queue(deliveries[:2]) + [sender.post(charge, "stripe_event", "event_id", "evt_out_1")]
        wait_until(lambda: sender.group.waiting == 3, "the stripe delivery is queued")
        resend_lock.commit()
        assert blocker.result(timeout=30)[0] == 200
        # The batch's resend rows are inserted; its stripe row waits on the lock: the outage strikes now.
        wait_until(lambda: waiting_on_lock(url, "stripe_event"), "the batch is half written")
        private_pg.stop()
        answers = [f.result(timeout=30) for f in batch]
        assert [status for status, _, _ in answers] == [503, 503, 503]
        assert all(body["retry_after"] for _, body, _ in answers), "every 503 tells the provider when to retry"

        private_pg.start()
        with psycopg.connect(url) as conn:
            assert [r[0] for r in conn.execute("select svix_id from raw.resend_event")] == ["msg_out_blocker"]
            assert count(conn, "stripe_event") == 0
        # The providers retry: everything lands once.
        deadline = time.monotonic() + 60
        pending = list(deliveries)
        while pending and time.monotonic() < deadline:
            client = app.test_client()
            pending = [d for d in pending if client.post(d.path, data=d.body, headers=d.headers).status_code != 200]
            if pending:
                time.sleep(0.5)
        assert pending == []
        with psycopg.connect(url) as conn:
            assert count(conn, "resend_event") == 3 and count(conn, "stripe_event") == 1
    finally:
        sender.pool.shutdown(wait=True)
        resend_lock.close()
        stripe_lock.close()
        app.extensions["gdp_pool"].close()



@pytest.mark.slow
def test_gdp_serve_stopped_mid_stream_has_stored_every_delivery_it_acknowledged(database_url, clean_raw, tmp_path):
    """SIGTERM while 12 clients post: gunicorn finishes the requests in flight, and every 200 has its row."""
    env_names = {f.name: f.metadata["env"] for f in fields(Settings)}
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "GDP_DATA_DIR": str(tmp_path)}
    env.update({env_names[k]: v for k, v in TEST_SECRETS.items()})
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gdp.cli", "serve", "--port", str(port), "--workers", "2"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(base), "gdp serve answers", timeout=30)
        acknowledged: list[str] = []
        stop = threading.Event()

        def client(n: int) -> None:
            with httpx.Client(base_url=base, timeout=10) as http:
                i = 0
                while not stop.is_set():
                    d = opened(f"msg_stop_{n}_{i}")
                    i += 1
                    try:
                        answer = http.post(d.path, content=d.body, headers=d.headers)
                    except httpx.HTTPError:
                        continue  # refused or cut while the server stops: not acknowledged
                    if answer.status_code == 200:
                        acknowledged.append(d.headers["svix-id"])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        wait_until(lambda: len(acknowledged) >= 200, "deliveries are acknowledged", timeout=60)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    stored = {r[0] for r in clean_raw.execute("select svix_id from raw.resend_event")}
    missing = set(acknowledged) - stored
    assert len(acknowledged) >= 200
    assert missing == set(), f"{len(missing)} acknowledged deliveries were not stored"


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False

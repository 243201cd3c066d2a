"""Two `gdp refresh` at once: the second says so plainly (or waits with --wait), via a Postgres
advisory lock, tested with real processes against one database (issue 13, finding 7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg

from orchestration.cycle import CYCLE_LOCK_KEY
from tests.dbt_helpers import private_database


def _refresh(url: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "-m", "gdp.cli", "refresh", "--quiet", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _lock_holders(url: str) -> dict[int, bool]:
    """Backend pid -> granted, for sessions holding or waiting for the cycle lock."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select pid, granted from pg_locks where locktype = 'advisory' and classid = 0 and objid = %s",
            (CYCLE_LOCK_KEY,),
        ).fetchall()
    return dict(rows)


def _until(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_second_refresh_exits_with_a_sentence_or_waits_for_the_first(server_url):
    with private_database(server_url) as url:
        first = _refresh(url)
        try:
            _until(lambda: any(_lock_holders(url).values()))
            second = _refresh(url)
            output, _ = second.communicate(timeout=60)
            assert second.returncode == 1, output
            assert "another pipeline cycle is running" in output and "--wait" in output
            assert "Traceback" not in output
            # It answered while the first still runs: it did not wait for it, nor disturb it.
            assert first.poll() is None, "the second refresh waited for the first, or disturbed it"

            waiting = _refresh(url, "--wait")
            try:
                _until(lambda: False in _lock_holders(url).values())
                time.sleep(1)
                assert waiting.poll() is None, "--wait did not wait"
                _stop(first)
                # The first one's lock went with its session: the waiting refresh now holds it.
                _until(lambda: list(_lock_holders(url).values()) == [True])
                assert waiting.poll() is None
            finally:
                _stop(waiting)
        finally:
            _stop(first)

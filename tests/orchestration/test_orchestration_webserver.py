"""Smoke test: the Dagster webserver starts headless on our definitions and its
GraphQL API lists the activation assets with their lineage to the ledger."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gdp.serve import free_port
from gdp.settings import REPO_ROOT

pytestmark = pytest.mark.slow

ACTIVATIONS = {"resend_emails", "meta_capi_events", "meta_audiences", "outbound_sequences", "webhooks"}
QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } owners { ... on TeamAssetOwner { team } } } }"


@pytest.fixture
def webserver(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    log = (tmp_path / "webserver.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-m", "orchestration.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("dagster-webserver exited early:\n" + (tmp_path / "webserver.log").read_text()[-3000:])
            try:
                if httpx.get(f"{base}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not answer within 120 s")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_graphql_lists_activation_assets(webserver):
    # The code location loads in its own process; poll until it has.
    deadline = time.monotonic() + 120
    nodes = []
    while time.monotonic() < deadline:
        body = httpx.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=30).json()
        nodes = (body.get("data") or {}).get("assetNodes") or []
        if nodes:
            break
        time.sleep(1)
    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert ACTIVATIONS <= set(by_key), f"assets listed: {sorted(by_key)}"
    deps = {name: {"/".join(d["path"]) for d in by_key[name]["dependencyKeys"]} for name in ACTIVATIONS}
    for name in ACTIVATIONS:
        assert by_key[name]["groupName"] == "activation"
        assert {"membership_ledger", "activation_recipient", "activation_holdout"} <= deps[name]
    # What the UI draws: each segment's edge to its channels, segments grouped per funnel with their owner.
    assert "new_signup_no_activation_24h" in deps["resend_emails"] and "won" in deps["outbound_sequences"]
    assert by_key["new_signup_no_activation_24h"]["groupName"] == "segments_newsletter"
    assert by_key["new_signup_no_activation_24h"]["owners"] == [{"team": "growth"}]
    assert by_key["won"]["groupName"] == "segments_outbound"
    assert {"raw/resend_event", "event", "segment_member", "membership_ledger"} <= set(by_key)

"""Ingest throughput: signed Resend webhooks per second through `gdp serve`.

    .venv/bin/python -m bench.bench_ingest [--duration 20] [--connections 16] [--workers N] [--rounds 3]

Starts the real ingest app under gunicorn (`gdp serve`'s production options) on a
fresh database, pre-signs enough unique Svix deliveries for the run (each its own
`svix-id`, so every request must land a row), and drives them with Debian's `wrk`
(installed with apt-get when missing) from a Lua script that replays the signed
requests. In the same run the bare yardstick (bench/bare_ingest_app.py: insert the
body, nothing else) is measured the same way, the two alternating for `--rounds`
rounds with both servers up. Prints requests/s, p50/p99 latency (medians over
rounds), the ratio real/bare (median of each round's ratio, and each round's), and
checks zero loss: rows landed == 2xx answers. On a local database it also prints the CPU each request cost (the gunicorn processes plus the
PostgreSQL server's processes, read from /proc), which a loaded machine skews less
than requests/s, and the rows per commit (requests over the database's committed
transactions during the run, from pg_stat_database): how much the group commit
actually batched (the bare app commits once a request).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg
from svix.webhooks import Webhook

from bench.bench_clicks import server_env
from gdp import db as gdb
from gdp.migrate import apply_migrations
from gdp.serve import free_port
from gdp.settings import REPO_ROOT, Settings

RESEND_SECRET = "whsec_" + base64.b64encode(b"bench-resend-secret-0123456789ab").decode()

# wrk runs `setup` once per thread in the main state, then `init` inside each thread:
# every thread loads its own slice of the pre-signed requests and replays it.
LUA = r"""
local next_index = 0
function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
end

local requests = {}
local counter = 0
function init(args)
  local path, threads = args[1], tonumber(args[2])
  local i = 0
  for line in io.lines(path) do
    if i % threads == thread_index then
      local id, ts, sig, body = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)")
      requests[#requests + 1] = wrk.format("POST", "/webhooks/resend", {
        ["Content-Type"] = "application/json",
        ["svix-id"] = id, ["svix-timestamp"] = ts, ["svix-signature"] = sig,
      }, body)
    end
    i = i + 1
  end
end

function request()
  counter = counter + 1
  return requests[((counter - 1) % #requests) + 1]
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (Debian package) ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


def sign_requests(path: Path, count: int) -> None:
    """Unique signed deliveries, one per line: svix-id, timestamp, signature, body."""
    webhook = Webhook(RESEND_SECRET)
    now = datetime.now(timezone.utc)
    with path.open("w") as handle:
        for i in range(count):
            msg_id = f"msg_bench_{uuid.uuid4().hex}"
            body = json.dumps({"type": "email.opened", "created_at": now.isoformat(), "data": {
                "email_id": str(uuid.uuid4()), "to": [f"reader{i}@example.com"], "subject": "Weekly digest",
                "tags": {"person_id": str(uuid.uuid4()), "campaign_id": "weekly_digest", "funnel": "newsletter"}}},
                separators=(",", ":"))
            handle.write(f"{msg_id}\t{int(now.timestamp())}\t{webhook.sign(msg_id, now, body)}\t{body}\n")


def start(cmd: list[str], env: dict, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server on port {port} did not start; see {log}")


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (0 for any that is gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def postmaster_pid(url: str) -> int | None:
    """The local PostgreSQL server's main process, when this machine runs it (None otherwise)."""
    with psycopg.connect(url) as conn:
        backend = conn.execute("select pg_backend_pid()").fetchone()[0]
        # Read while connected: the backend exits when the connection closes.
        try:
            stat = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
    return int(stat[1])


def _commits(url: str) -> int:
    """Transactions committed in this database so far, as its statistics say (a backend reports within about a
    second; what the last round's backends have not yet reported is missed, a few percent of a 20 s run)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("select xact_commit from pg_stat_database where datname = current_database()").fetchone()[0]


def run_wrk(wrk: str, port: int, signed: Path, duration: int, connections: int, threads: int, workdir: Path) -> dict:
    script = workdir / "replay.lua"
    script.write_text(LUA)
    out = subprocess.run(
        [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}", "--", str(signed), str(threads)],
        capture_output=True, text=True, check=True,
    ).stdout
    try:
        return parse_wrk(out)
    except (AttributeError, KeyError):
        raise SystemExit(f"could not read wrk's report:\n{out}") from None


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict:
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": requests,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99_ms": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def run(duration: int = 20, connections: int = 16, workers: int | None = None, rounds: int = 3) -> dict:
    """`rounds` alternations of the two apps (real, bare, real, bare ...), both servers up throughout.

    Each round's ratio compares two runs seconds apart, so a shared machine's load drifting
    during the call moves both; the figures are the medians over rounds, each round listed.
    """
    wrk = ensure_wrk()
    settings = Settings.from_env()
    server_url = gdb.database_url(settings)
    name = f"gdp_bench_ingest_{uuid.uuid4().hex[:8]}"
    url = gdb.create_database(server_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="gdp-bench-ingest-"))
    workers = workers or (os.cpu_count() or 1) * 2 + 1
    threads = 2
    procs: dict[str, subprocess.Popen] = {}
    try:
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table bench_bare_landing (id bigserial primary key, body text)")
        env = server_env(url)
        env["RESEND_WEBHOOK_SECRET"] = RESEND_SECRET

        # Enough unique deliveries that no request repeats within or across rounds: each
        # round replays its own file (a repeat would be a cheaper redelivery no-op).
        count = duration * 4000
        print(f"signing {count * rounds} unique Resend deliveries ...", flush=True)
        signed_files = [workdir / f"signed-{i}.tsv" for i in range(rounds)]
        for path in signed_files:
            sign_requests(path, count)

        postmaster = postmaster_pid(url)
        load_at_start = os.getloadavg()[0]
        ports = {}
        for label, cmd in (
            ("gdp", [sys.executable, "-m", "gdp.cli", "serve", "--port", "{port}", "--workers", str(workers)]),
            ("bare", [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", "4",
                      "-b", "127.0.0.1:{port}", "bench.bare_ingest_app:app"]),
        ):
            ports[label] = free_port()
            procs[label] = start([c.replace("{port}", str(ports[label])) for c in cmd], env, ports[label],
                                 workdir / f"{label}.log")

        runs: dict[str, list[dict]] = {"gdp": [], "bare": []}
        for round_index, signed in enumerate(signed_files, 1):
            for label in ("gdp", "bare"):
                print(f"wrk round {round_index}/{rounds}: {label} app, {duration}s, {connections} connections, "
                      f"{workers} workers", flush=True)
                app_pids = [procs[label].pid, *_children(procs[label].pid)]
                pg_pids = _children(postmaster) if postmaster else []
                commits = _commits(url)
                app_cpu, pg_cpu = _cpu_seconds(app_pids), _cpu_seconds(pg_pids)
                result = run_wrk(wrk, ports[label], signed, duration, connections, threads, workdir)
                # The two probes' own transactions are not the app's.
                result["commits"] = _commits(url) - commits - 2
                # Backends the run opened count whole; those it closed are missed (the pools keep theirs open).
                pg_pids = sorted(set(pg_pids) | set(_children(postmaster))) if postmaster else []
                requests = max(1, result["requests"])
                result["app_cpu_ms"] = (_cpu_seconds(app_pids) - app_cpu) / requests * 1000
                result["db_cpu_ms"] = (_cpu_seconds(pg_pids) - pg_cpu) / requests * 1000 if postmaster else None
                runs[label].append(result)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=20)
    try:
        with psycopg.connect(url) as conn:
            landed = conn.execute("select count(*) from raw.resend_event").fetchone()[0]
        gdp, bare = runs["gdp"], runs["bare"]
        accepted = sum(r["requests"] - r["non_2xx"] - r["socket_errors"] for r in gdp)

        def med(results: list[dict], key: str, digits: int = 2) -> float:
            return round(_median([r[key] for r in results]), digits)

        figures = {
            "scale": f"{rounds} rounds of {duration}s signed Resend webhooks per app, alternating, "
                     f"{connections} connections, {workers} gunicorn workers",
            "ingest_rps": med(gdp, "rps", 1),
            "ingest_p50_ms": med(gdp, "p50_ms"),
            "ingest_p99_ms": med(gdp, "p99_ms"),
            "bare_rps": med(bare, "rps", 1),
            "bare_p50_ms": med(bare, "p50_ms"),
            "bare_p99_ms": med(bare, "p99_ms"),
            "ingest_ratio_vs_bare": round(_median([g["rps"] / b["rps"] for g, b in zip(gdp, bare)]), 3),
            "ingest_ratio_per_round": [round(g["rps"] / b["rps"], 3) for g, b in zip(gdp, bare)],
            "ingest_p99_ms_per_round": [round(g["p99_ms"], 2) for g in gdp],
            "ingest_requests": sum(r["requests"] for r in gdp),
            "ingest_non_2xx": sum(r["non_2xx"] for r in gdp),
            "ingest_rows_landed": landed,
            "ingest_rows_lost": max(0, accepted - landed),
            "ingest_rows_per_commit": round(sum(r["requests"] for r in gdp) / max(1, sum(r["commits"] for r in gdp)), 2),
            "bare_rows_per_commit": round(sum(r["requests"] for r in bare) / max(1, sum(r["commits"] for r in bare)), 2),
            "ingest_app_cpu_ms_per_request": med(gdp, "app_cpu_ms", 3),
            "bare_app_cpu_ms_per_request": med(bare, "app_cpu_ms", 3),
        }
        if postmaster:
            figures["ingest_db_cpu_ms_per_request"] = med(gdp, "db_cpu_ms", 3)
            figures["bare_db_cpu_ms_per_request"] = med(bare, "db_cpu_ms", 3)
            figures["ingest_cpu_ratio_bare_over_real"] = round(_median([
                (b["app_cpu_ms"] + b["db_cpu_ms"]) / (g["app_cpu_ms"] + g["db_cpu_ms"]) for g, b in zip(gdp, bare)
            ]), 3)
        figures["load_average_start_end"] = [round(load_at_start, 2), round(os.getloadavg()[0], 2)]
        return figures
    finally:
        gdb.drop_database(server_url, name)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two apps (medians are printed)")
    args = parser.parse_args(argv)
    figures = run(args.duration, args.connections, args.workers, args.rounds)
    print(json.dumps(figures, indent=2))
    print("RESULT " + json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()

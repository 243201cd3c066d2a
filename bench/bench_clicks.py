"""Benchmark the click redirect `/c/<token>` the way production serves it.

    .venv/bin/python -m bench.bench_clicks [--rate 200] [--duration 20] [--workers N]

Starts `gdp serve` (gunicorn, production options) on a free local port against a
fresh, migrated database on the configured server (embedded PostgreSQL when
DATABASE_URL is unset), then fires GET /c/<token> at a steady open-loop rate
(requests are sent on schedule, not when the previous one returns, so a slow
server cannot slow the load down and hide its own latency). Each request lands
a real raw.click row. Prints p50/p95/p99/max latency, the achieved rate, and how
far the load generator itself fell behind its schedule. Target: p99 < 20 ms at
200 requests/s. The benchmark database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import fields

import httpx

from gdp import db as gdb
from gdp.links import mint_link
from gdp.migrate import apply_migrations
from gdp.serve import free_port
from gdp.settings import REPO_ROOT, Settings

SECRET = "bench-tracking-link-secret"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def server_env(database_url: str) -> dict[str, str]:
    """The environment `gdp serve` needs: every secret a blueprint requires gets a bench value."""
    from ingest_app import BLUEPRINTS

    env_names = {f.name: f.metadata["env"] for f in fields(Settings)}
    env = {**os.environ, "DATABASE_URL": database_url, "TRACKING_LINK_SECRET": SECRET}
    # One load generator plays every visitor from this machine: the per-IP limits must not apply.
    env.setdefault("GDP_RATE_LIMIT_EXEMPT", "127.0.0.1,::1")
    for module in BLUEPRINTS:
        for attr in getattr(module, "REQUIRED_SETTINGS", {}):
            env.setdefault(env_names[attr], f"bench-{attr}")
    return env


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for GET + 302.

    A hand-rolled client because a full one (httpx) costs ~1-2 ms of CPU per
    request in the generator, which on a small shared machine becomes lag that
    the benchmark would report as server latency.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def get(self, path: str, host: str) -> tuple[int, dict[str, str]]:
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {BROWSER_UA}\r\nAccept: */*\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length:
            await self.reader.readexactly(length)
        return status, headers

    def close(self) -> None:
        self.writer.close()


async def fire(base: str, paths: list[str], rate: float, duration: float) -> tuple[list[float], list[float], int, float]:
    host_port = base.removeprefix("http://")
    host, port = host_port.split(":")[0], int(host_port.split(":")[1])
    idle: list[Connection] = []
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0
    total = int(rate * duration)

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        start = time.perf_counter()
        lags.append(start - scheduled)
        conn = None
        try:
            reused = bool(idle)
            conn = idle.pop() if reused else await Connection.open(host, port)
            try:
                status, headers = await conn.get(paths[i % len(paths)], host_port)
            except (OSError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                # The server closed an idle keep-alive connection (keepalive timeout, worker
                # recycling); like any HTTP client, retry the GET once on a new connection.
                conn.close()
                conn = await Connection.open(host, port)
                status, headers = await conn.get(paths[i % len(paths)], host_port)
            ok = status == 302 and "gdp_click_id=" in headers.get("location", "")
            if headers.get("connection", "").lower() == "close":
                conn.close()
            else:
                idle.append(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
            if conn is not None:
                conn.close()
        latencies.append(time.perf_counter() - start)
        if not ok:
            errors += 1

    tasks = []
    t0 = time.perf_counter()
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    for conn in idle:
        conn.close()
    return latencies, lags, errors, elapsed


def wait_healthy(base: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gdp serve exited with {process.returncode}; see its log above")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("gdp serve did not become healthy within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gdp serve's)")
    args = parser.parse_args()

    settings = Settings.from_env()
    server_url = gdb.database_url(settings)
    dbname = f"gdp_bench_{uuid.uuid4().hex[:8]}"
    database_url = gdb.create_database(server_url, dbname)
    process = None
    try:
        apply_migrations(database_url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "gdp.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=server_env(database_url), stdout=subprocess.DEVNULL, start_new_session=True,
        )
        wait_healthy(base, process)

        link_settings = Settings(tracking_link_secret=SECRET, public_base_url=base)
        paths = [
            httpx.URL(
                mint_link(link_settings, f"p_{n:05d}", "welcome", "newsletter",
                          f"https://www.example.com/post/{n}?utm_source=newsletter&utm_campaign=welcome", f"em_{n}")
            ).raw_path.decode()
            for n in range(500)
        ]
        asyncio.run(fire(base, paths, args.rate, args.warmup))
        latencies, lags, errors, elapsed = asyncio.run(fire(base, paths, args.rate, args.duration))

        with gdb.connect(database_url) as conn:
            rows = conn.execute("select count(*) from raw.click").fetchone()[0]
        ms = sorted(x * 1000 for x in latencies)
        lag_ms = sorted(x * 1000 for x in lags)
        from gdp.serve import gunicorn_options

        workers = gunicorn_options("127.0.0.1", port, args.workers)["workers"]
        print(f"gdp serve: gunicorn {workers} workers x {gunicorn_options('127.0.0.1', port, None)['threads']} threads, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        print(f"click redirect /c/<token>: {len(ms)} requests in {elapsed:.1f} s -> {len(ms) / elapsed:.1f} req/s "
              f"(target {args.rate:.0f}), errors {errors}, raw.click rows {rows} (incl. warm-up)")
        print(f"latency ms: p50 {percentile(ms, 50):.2f}  p95 {percentile(ms, 95):.2f}  p99 {percentile(ms, 99):.2f}  "
              f"max {ms[-1]:.2f}  mean {statistics.fmean(ms):.2f}")
        print(f"load generator lag behind schedule ms: p99 {percentile(lag_ms, 99):.2f}  max {lag_ms[-1]:.2f}")
        print(f"target p99 < 20 ms at 200 req/s: {'met' if percentile(ms, 99) < 20 and errors == 0 else 'NOT met'}")
        print("RESULT " + json.dumps({
            "scale": f"{args.rate:.0f} req/s for {args.duration:.0f} s, {workers} gunicorn workers",
            "achieved_rps": round(len(ms) / elapsed, 1), "errors": errors,
            "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2),
        }))
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        gdb.drop_database(server_url, dbname)


if __name__ == "__main__":
    main()

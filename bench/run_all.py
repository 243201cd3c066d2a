"""`make bench`: every benchmark, each figure printed with its scale, saved as JSON.

Each benchmark runs as its own process (so one's memory or servers cannot skew
the next) and ends with a line `RESULT {json}`; this collects those figures into
bench/results/latest.json under the keys the README quotes.

    .venv/bin/gdp bench [--quick] [--only ingest,clicks,...]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results" / "latest.json"

# name -> (module, full-size argv, quick argv)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "ingest": ("bench.bench_ingest", ["--duration", "10", "--rounds", "3"], ["--duration", "5", "--rounds", "1"]),
    "clicks": ("bench.bench_clicks", ["--rate", "200", "--duration", "30"], ["--rate", "200", "--duration", "5"]),
    "pipeline": ("bench.bench_warehouse", ["--persons", "100000", "--events", "2000000"],
                 ["--persons", "10000", "--events", "200000"]),
    "pipeline_4x": ("bench.bench_warehouse", ["--persons", "400000", "--events", "8000000"],
                    ["--persons", "40000", "--events", "800000"]),
    "identity": ("bench.bench_identity", ["--edges", "1000000"], ["--edges", "100000"]),
    "latency": ("bench.bench_latency", ["--persons", "100000", "--qualifiers", "20"],
                ["--persons", "10000", "--qualifiers", "5"]),
    "spark": ("bench.bench_spark", ["--rows", "200000"], ["--rows", "20000"]),
    "spark_cycle": ("bench.bench_spark_cycle", ["--persons", "2000", "--events", "40000"],
                    ["--persons", "200", "--events", "4000"]),
    "soak": ("bench.bench_soak", ["--duration", "600"], ["--duration", "30"]),
    "activation_held": ("bench.bench_activation", ["--held", "116570", "--persons", "5000"],
                        ["--held", "20000", "--persons", "2000"]),
}


def run_one(name: str, module: str, argv: list[str]) -> dict:
    print(f"\n=== {name}: python -m {module} {' '.join(argv)}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", module, *argv], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    result: dict = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
        else:
            sys.stdout.write("    " + line)
    proc.wait()
    result.setdefault("command", f"python -m {module} {' '.join(argv)}")
    result["wall_s"] = round(time.monotonic() - started, 1)
    if proc.returncode != 0:
        result["error"] = f"exit code {proc.returncode}"
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the stated scales (minutes, not an hour)")
    parser.add_argument("--only", default="", help="comma-separated subset of: " + ", ".join(BENCHES))
    args = parser.parse_args(argv)
    chosen = [n for n in BENCHES if not args.only or n in args.only.split(",")]
    # A partial run (--only) keeps the other benchmarks' last figures.
    results = json.loads(RESULTS.read_text()).get("details", {}) if RESULTS.exists() else {}
    for name in chosen:
        module, full, quick = BENCHES[name]
        results[name] = run_one(name, module, quick if args.quick else full)

    summary = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
        "scale": "quick (1/10)" if args.quick else "full (each benchmark's own scale is in details)",
        "ingest_rps": results.get("ingest", {}).get("ingest_rps"),
        "ingest_ratio_vs_bare": results.get("ingest", {}).get("ingest_ratio_vs_bare"),
        "ingest_p99_ms": results.get("ingest", {}).get("ingest_p99_ms"),
        "click_p99_ms": results.get("clicks", {}).get("p99_ms"),
        "cycle_full_s": results.get("pipeline", {}).get("full_build_s"),
        "cycle_incremental_s": results.get("pipeline", {}).get("incremental_cycle_s"),
        "cycle_full_4x_s": results.get("pipeline_4x", {}).get("full_build_s"),
        "cycle_incremental_4x_s": results.get("pipeline_4x", {}).get("incremental_cycle_s"),
        "identity_edges_per_s": results.get("identity", {}).get("edges_per_s"),
        "latency_p95_s": results.get("latency", {}).get("p95_s"),
        "soak_rows_lost": results.get("soak", {}).get("rows_lost"),
        "details": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print("\n=== figures")
    for key, value in summary.items():
        if key != "details":
            print(f"  {key:<24} {value}")
    print(f"\nwritten: {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()

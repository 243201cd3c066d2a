"""Identity benchmark: connected components over ~1M identifier edges.

    .venv/bin/python -m bench.bench_identity [--edges 1000000]

Generates raw rows for every source with bench_warehouse's SQL generator, sized so
the identity graph gets about `--edges` edges, then times with dbt:
  1. edge extraction: `dbt run --full-refresh --select +int_identity__edges`;
  2. components: `dbt run --full-refresh --select int_identity__nodes ... int_identity__components`
     (node numbering, label propagation over verified edges, the client-asserted claims and
     anonymous groups, see macros/label_propagation.sql).
  3. one incremental relabel: 10,000 edges stamped as written by a new cycle, then the same
     models without `--full-refresh` (only the raw components those edges touch are recomputed,
     macros/identity_graph.sql).
Prints edges, nodes, components and edges/s of step 2, the figure `make bench` keeps, and the
relabel time of step 3.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import psycopg

from bench.bench_warehouse import GENERATE, execute_script, timed_run
from gdp import db as gdb
from gdp.migrate import apply_migrations
from gdp.settings import Settings

# bench_warehouse's generator yields about 0.28 edges per raw event at 20 events per person.
EVENTS_PER_EDGE = 3.6


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edges", type=int, default=1_000_000, help="approximate number of identity edges")
    args = parser.parse_args(argv)

    events = int(args.edges * EVENTS_PER_EDGE)
    persons = max(1000, events // 20)
    server = gdb.database_url(Settings.from_env())
    name = f"gdp_bench_identity_{int(time.time())}"
    url = gdb.create_database(server, name)
    try:
        apply_migrations(url)
        sizes = {"persons": persons, "resend": int(events * 0.2), "posthog": int(events * 0.65),
                 "clicks": int(events * 0.03), "customers": int(events * 0.02 / 5), "capi": int(events * 0.01),
                 "leads": persons // 5}
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            execute_script(conn, GENERATE, sizes)
            conn.execute("analyze")
        print(f"generated raw rows for {persons:,} persons / {events:,} events in {time.perf_counter() - started:.1f}s")

        target = Path(tempfile.mkdtemp(prefix="gdp_bench_identity_"))
        timed_run(url, target, ["seed"])
        extract_s = timed_run(url, target, ["run", "--full-refresh", "--select", "+int_identity__edges"])
        components_args = ["run", "--full-refresh", "--select", "int_identity__nodes", "int_identity__verified_components",
                           "int_identity__claims", "int_identity__anonymous_groups", "int_identity__components"]
        components_s = timed_run(url, target, components_args)
        with psycopg.connect(url) as conn:
            edges = conn.execute("select count(*) from analytics.int_identity__edges").fetchone()[0]
            nodes = conn.execute("select count(*) from analytics.int_identity__nodes").fetchone()[0]
            components = conn.execute(
                "select count(distinct component_id) from analytics.int_identity__components").fetchone()[0]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("update analytics.int_identity__edges set written_at = clock_timestamp()"
                         " where edge_key in (select edge_key from analytics.int_identity__edges"
                         " order by md5(edge_key) limit 10000)")
        relabel_s = timed_run(url, target, components_args[:1] + components_args[2:])
        with psycopg.connect(url) as conn:
            relabelled = conn.execute(
                "select count(*) from analytics.int_identity__components"
                " where written_at = (select max(written_at) from analytics.int_identity__components)").fetchone()[0]
        figures = {
            "edges": edges, "nodes": nodes, "components": components,
            "edge_extraction_s": round(extract_s, 1), "components_s": round(components_s, 1),
            "edges_per_s": round(edges / components_s) if components_s else None,
            "incremental_relabel_10k_edges_s": round(relabel_s, 1), "incremental_relabelled_nodes": relabelled,
            "command": f"gdp dbt {' '.join(components_args)}",
        }
        print(f"edge extraction: {extract_s:.1f}s; components over {edges:,} edges / {nodes:,} nodes "
              f"-> {components:,} components in {components_s:.1f}s ({figures['edges_per_s']:,} edges/s)")
        print(f"incremental relabel after 10,000 changed edges: {relabel_s:.1f}s ({relabelled:,} identifiers recomputed)")
        print("RESULT " + json.dumps(figures))
        return figures
    finally:
        gdb.drop_database(server, name)


if __name__ == "__main__":
    main()

"""CI-sized soak: 30 s of mixed signed traffic on `gdp serve` while refresh cycles run (bench/bench_soak.py).

Asserts what must hold at any size: no accepted request lost (raw rows == accepted
per table), every raw row accounted for in `event` (capture_completeness), at least
one refresh cycle ran during the load, and the server's memory did not run away
(loosely: under 2x its post-warm-up size + 100 MB; timings are printed, never asserted).
"""

from __future__ import annotations

import pytest

from bench.bench_soak import run_soak

pytestmark = pytest.mark.slow


def test_soak_loses_nothing_and_memory_stays_bounded():
    result = run_soak(30, 15, workers=2, persons=50)
    print("\n" + result.report())
    assert sum(result.accepted.values()) >= 0.95 * sum(result.sent.values()), result.report()
    assert result.lost == {kind: 0 for kind in result.lost}, result.report()
    assert result.capture and result.missing_from_event == 0, result.report()
    assert all(r["raw_rows"] == r["event_rows"] + r["excluded_rows"] for r in result.capture.values())
    assert result.cycles_ok >= 1 and result.cycles_failed == 0, result.report()
    rss = [mb for _, mb in result.rss_mb]
    # Sampled about once a second; a loaded machine takes fewer samples, a few show the trend.
    assert len(rss) >= 5 and rss[-1] < 2 * result.rss_after_warmup + 100, result.report()

"""One pipeline cycle: dbt build over raw → staging → marts (→ segments)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gdp.dbt import DbtRun, run_dbt


@dataclass
class CycleResult:
    dbt: DbtRun

    @property
    def ok(self) -> bool:
        return self.dbt.ok

    def summary(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.dbt.statuses.items())) or "nothing ran"
        lines = [f"dbt build: {counts} in {self.dbt.elapsed_s:.1f}s"]
        lines += [f"  FAILED {failure}" for failure in self.dbt.failures]
        if not self.dbt.ok and not self.dbt.failures:
            lines.append(self.dbt.output[-3000:])
        return "\n".join(lines)


def run_cycle(url: str, *, full_refresh: bool = False, stream: bool = False, target_path: Path | None = None) -> CycleResult:
    args = ["build"] + (["--full-refresh"] if full_refresh else [])
    return CycleResult(run_dbt(args, url, target_path=target_path, stream=stream))

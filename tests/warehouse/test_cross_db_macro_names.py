"""No project macro shadows one of dbt's own: a root-project macro named like a global one
(`safe_cast`, `string_literal`, ...) replaces it everywhere, unit-test fixtures included."""

from __future__ import annotations

import re
from pathlib import Path

import dbt.include
import dbt.include.postgres

from gdp.settings import REPO_ROOT

MACRO = re.compile(r"{%-?\s*macro\s+(?:default__|postgres__|spark__)?([a-z_0-9]+)\s*\(")


def macro_names(root: Path) -> set[str]:
    return {name for path in root.rglob("*.sql") for name in MACRO.findall(path.read_text())}


def test_project_macros_do_not_shadow_dbt_macros():
    ours = macro_names(REPO_ROOT / "macros")
    dbts = set()
    for package in (dbt.include, dbt.include.postgres):
        for root in package.__path__:
            dbts |= macro_names(Path(root))
    assert len(dbts) > 100
    assert ours & dbts == set()

"""Outbound sequence definitions: `activation/sequences/<name>.yml`.

A sequence is a list of steps, each a delay (from the previous step, or from
enrollment for the first) and either an email `template` or an `action`
(`notify_human`), plus `stop_on`: event types from dbt's `event` that end the
sequence for that person (booking, reply, won, lost). Suppression always stops it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from activation.render import TEMPLATES_DIR, parse_duration

SEQUENCES_DIR = Path(__file__).resolve().parent / "sequences"
STEP_ACTIONS = {"notify_human"}


class SequenceError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    delay: timedelta
    template: str | None
    action: str | None


@dataclass(frozen=True)
class Sequence:
    name: str
    steps: tuple[Step, ...]
    stop_on: tuple[str, ...]


def parse_delay(value: object) -> timedelta:
    delay = parse_duration(value)
    if delay is None:
        raise SequenceError(f"delay {value!r} must look like 30m, 4h or 3d")
    return delay


def sequence_names(directory: Path = SEQUENCES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yml"))


@lru_cache(maxsize=64)
def load_sequence(name: str, directory: Path = SEQUENCES_DIR) -> Sequence:
    path = directory / f"{name}.yml"
    if not re.fullmatch(r"[a-z0-9_]+", name or "") or not path.exists():
        raise SequenceError(f"no outbound sequence {name!r} (expected activation/sequences/{name}.yml)")
    spec = yaml.safe_load(path.read_text()) or {}
    steps = []
    for i, raw in enumerate(spec.get("steps") or [], start=1):
        template, action = raw.get("template"), raw.get("action")
        if bool(template) == bool(action):
            raise SequenceError(f"{name} step {i}: give exactly one of template or action")
        if action and action not in STEP_ACTIONS:
            raise SequenceError(f"{name} step {i}: unknown action {action!r}")
        if template and not (TEMPLATES_DIR / f"{template}.yml").exists():
            raise SequenceError(f"{name} step {i}: no email template {template!r}")
        steps.append(Step(parse_delay(raw.get("delay", "0h")), template, action))
    if not steps:
        raise SequenceError(f"sequence {name!r} has no steps")
    return Sequence(name, tuple(steps), tuple(spec.get("stop_on") or ()))

"""Durations as people read them: 2 d 14 h, 3 min 20 s, 850 ms, never 223,917.97 s."""

from __future__ import annotations

_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def human_duration(seconds: float | None) -> str:
    """Two largest units for anything over a minute; seconds with one decimal under it; ms under a second."""
    if seconds is None:
        return "–"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{sign}{seconds:.1f} s"
    total = round(seconds)
    parts = []
    for name, size in _UNITS:
        if total >= size:
            parts.append(f"{total // size} {name}")
            total %= size
        if len(parts) == 2 or (parts and not total):
            break
    return sign + " ".join(parts)

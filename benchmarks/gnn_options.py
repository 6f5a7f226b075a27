"""``KEY=VALUE`` settings for ``GNNModel`` given on a benchmark's command line."""

from __future__ import annotations

import json


def parse_gnn_options(items: list[str]) -> dict:
    """``KEY=VALUE`` strings to ``GNNModel`` keyword arguments; values read as JSON (numbers,
    booleans), else kept as text."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"GNNModel option {item!r}: expected KEY=VALUE, e.g. temperature=4")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out

"""What both CP-SAT models share about CP-SAT itself (not about MIG): status names, price units.

Its own module because the per-GPU cross-check (`pergpu.py`) must share no code with the
layout-count model (`formulation.py`, `model.py`), yet both read CP-SAT's status codes and turn
prices into integers the same way.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from recommender.plan import Status

# Prices become integers in units of 1/10,000 $ per hour (CP-SAT needs integer coefficients).
PRICE_SCALE = 10_000

STATUS_NAMES: dict[int, Status] = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "unknown",
    cp_model.UNKNOWN: "unknown",
}


def status_name(code: int) -> Status:
    """The plan's name for a CP-SAT status code ("unknown" for anything unexpected)."""
    return STATUS_NAMES.get(code, "unknown")


def price_units(cost_per_hour: float) -> int:
    """A price per hour in integer PRICE_SCALE units, as the models' cost objectives count it."""
    return round(cost_per_hour * PRICE_SCALE)

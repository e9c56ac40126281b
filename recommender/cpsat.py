"""What both CP-SAT models share about CP-SAT itself (not about MIG): status names, price units.

Its own module because the per-GPU cross-check (`pergpu.py`) must share no code with the
layout-count model (`formulation.py`, `model.py`), yet both read CP-SAT's status codes and turn
prices into integers the same way.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from recommender.plan import Status

# CP-SAT computes in 64-bit integers and rejects a model whose linear expressions could overflow;
# objectives are kept below this (with room for CP-SAT's own sums).
SAFE_MAGNITUDE = 2**60

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


class SolverError(RuntimeError):
    """The solver could not be given or refused the model: a bug or a limit, never a plan."""


def check_magnitude(what: str, value: int) -> None:
    """Refuse, before solving, an objective whose value could overflow CP-SAT's integers."""
    if value >= SAFE_MAGNITUDE:
        raise SolverError(
            f"{what} can reach {value:.3e} integer units, beyond what CP-SAT computes safely "
            f"({SAFE_MAGNITUDE:.3e}); prices or GPU counts this large are outside the model's range"
        )

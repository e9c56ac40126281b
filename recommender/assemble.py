"""Building a plan: the one place a `Plan` is put together from a planner's decisions.

Every planner (the solver, each baseline, the per-GPU cross-check) decides GPUs and unplaced
replicas, then calls `assemble_plan`, so every plan carries the same derived parts computed the
same way: cost from the GPUs hosting instances, a bound never above the cost, the summary, the
inputs' digest and the solver's statistics. `with_summary` completes a plan read from a file.
"""

from __future__ import annotations

import time

from recommender.catalog import Catalog
from recommender.plan import Plan, PlanGpu, SolverStats, Status, Unplaced
from recommender.problem import Problem
from recommender.summary import inputs_digest, plan_cost, summarize
from recommender.throughput import configure, reconcile_unplaced
from recommender.transition import build_transition

HEURISTIC_BOUND_SOURCE = "none (a greedy baseline proves no bound)"


def assemble_plan(
    problem: Problem,
    catalog: Catalog,
    gpus: list[PlanGpu],
    unplaced: list[Unplaced],
    *,
    status: Status,
    lower_bound_per_hour: float,
    solver: SolverStats,
    current: list[PlanGpu] | None = None,
    wave_size: int = 1,
    max_recarve: int | None = None,
    max_moves: int | None = None,
) -> Plan:
    """A complete plan (docs/design.md §6 plus summary, digest and solver stats) from its decisions.

    With `current` (the running fleet) the plan also carries its `transition` from that state:
    what is kept, re-carved, released and moved, the rollout waves of `wave_size` nodes, and the
    budgets it was made under.

    The cost is always computed here from `gpus`; the bound is capped at it, since rounded
    prices can put a solver's integer bound a hair above the exact cost.
    """
    # Throughput workloads: every instance carries its measured configuration and the unplaced
    # list says what rate is left unserved, whichever planner decided the GPUs.
    gpus = configure(gpus, problem, catalog)
    unplaced = reconcile_unplaced(gpus, unplaced, problem, catalog)
    cost = plan_cost(gpus, problem)
    bound = min(lower_bound_per_hour, cost)
    plan = Plan(
        status=status,
        cost_per_hour=round(cost, 6),
        lower_bound_per_hour=round(bound, 6),
        gpus=gpus,
        unplaced=unplaced,
        summary=summarize(gpus, unplaced, problem, catalog, bound),
        solver=solver,
        inputs_sha256=inputs_digest(problem, catalog),
    )
    if current is not None:
        # `build_transition` stops replicas the workloads no longer ask for itself.
        transition = build_transition(current, plan, problem, catalog, wave_size)
        budgets = {"max_recarve": max_recarve, "max_moves": max_moves}
        plan.transition = transition.model_copy(update=budgets)
    return plan


def heuristic_stats(name: str, wall_seconds: float) -> SolverStats:
    """Solver stats of a baseline: no solver, nothing proven."""
    return SolverStats(
        formulation=f"baseline: {name}",
        wall_seconds=round(wall_seconds, 3),
        placement_status="feasible",
        cost_status="feasible",
        lower_bound_source=HEURISTIC_BOUND_SOURCE,
    )


def heuristic_plan(
    problem: Problem,
    catalog: Catalog,
    gpus: list[PlanGpu],
    unplaced: list[Unplaced],
    name: str,
    started: float,
) -> Plan:
    """The plan of the greedy baseline `name`, begun at `started` (`time.perf_counter`):
    feasible, with no bound proven."""
    return assemble_plan(
        problem,
        catalog,
        gpus,
        unplaced,
        status="feasible",
        lower_bound_per_hour=0.0,
        solver=heuristic_stats(name, time.perf_counter() - started),
    )


def with_summary(plan: Plan, problem: Problem, catalog: Catalog) -> Plan:
    """`plan` with its summary computed from its GPUs, unplaced replicas and these inputs.

    For plans read from a file: the summary may be missing (plans from other tools) or predate
    fields (per-pool utilization), so it is always recomputed; the rest of the plan is kept.
    """
    summary = summarize(plan.gpus, plan.unplaced, problem, catalog, plan.lower_bound_per_hour)
    return plan.model_copy(update={"summary": summary})

"""Baselines on inputs of many interchangeable rows: planned on the merged workloads, then every
merged replica handed back to the row it stands for.

An export from a cluster has a row per pod: 500,000 rows of a few hundred distinct demands. A
baseline serving them row by row repeats the same bookkeeping 500,000 times (minutes for the
three the page shows). Above MERGE_ABOVE_ROWS rows, a baseline plans `greedy.merge_identical`'s
problem instead (interchangeable workloads merged: same demand and priority, neither spread nor
throughput), and its plan is mapped back: replica k of a merged workload is the k-th replica of
its members in input order; a member missing replicas gets the merged workload's unplaced
reason (the members share their demand, so they share the reason). The plan is then assembled
for the real inputs. Serving the members together can order ties differently from row by row
(`greedy.serving_order` breaks ties by name), so the plan may differ from the row-by-row one
while following the same rule.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

from recommender.assemble import assemble_plan
from recommender.catalog import Catalog
from recommender.greedy import identical_groups, merge_identical
from recommender.plan import Plan, Unplaced
from recommender.problem import Problem, Workload

# Inputs with more rows than this are planned merged (every sample and benchmark size has fewer).
MERGE_ABOVE_ROWS = 20_000


def plan_on_merged(
    planner: Callable[[Problem, Catalog], Plan], problem: Problem, catalog: Catalog
) -> Plan:
    """`planner`'s plan of `problem`, made on the merged problem and mapped back (see above)."""
    groups = identical_groups(problem)
    if not groups:
        return planner(problem, catalog)
    merged_plan = planner(merge_identical(problem), catalog)
    # Per merged workload: where each member's replicas start in the merged numbering.
    starts = {name: _starts(members) for name, members in groups.items()}
    placed: dict[str, int] = defaultdict(int)
    for gpu in merged_plan.gpus:
        for instance in gpu.instances:
            if instance.workload not in groups or instance.replica is None:
                continue
            members, offsets = groups[instance.workload], starts[instance.workload]
            k = bisect.bisect_right(offsets, instance.replica) - 1
            # The merged plan is this function's own: its instances are renamed in place.
            instance.workload = members[k].name
            instance.replica -= offsets[k]
            placed[instance.workload] += 1
    reasons = {u.workload: u for u in merged_plan.unplaced}
    group_of = {member.name: first for first, members in groups.items() for member in members}
    unplaced: list[Unplaced] = []
    for workload in problem.workloads:
        first = group_of.get(workload.name)
        if first is None:  # not merged: the merged plan's own entry
            if workload.name in reasons:
                unplaced.append(reasons[workload.name])
            continue
        missing = workload.replicas - placed[workload.name]
        if missing > 0:  # then the merged workload has an entry too: it is missing as many
            reason = reasons[first].reason
            unplaced.append(Unplaced(workload=workload.name, replicas=missing, reason=reason))
    return assemble_plan(
        problem,
        catalog,
        merged_plan.gpus,
        unplaced,
        status=merged_plan.status,
        lower_bound_per_hour=merged_plan.lower_bound_per_hour,
        solver=merged_plan.solver,
    )


def _starts(members: list[Workload]) -> list[int]:
    """The merged replica number of each member's replica 0."""
    starts, total = [], 0
    for member in members:
        starts.append(total)
        total += member.replicas
    return starts

"""Baseline `whole-gpu`: no MIG sharing; every replica gets a whole GPU.

Each replica takes the model's full-GPU profile (`rules.full_gpu_profile`) on the next free GPU
of the cheapest pool that fits it, in `greedy.serving_order`.
"""

from __future__ import annotations

import time

from recommender.assemble import heuristic_plan
from recommender.catalog import Catalog
from recommender.greedy import serving_order
from recommender.plan import Plan, PlanGpu, PlanInstance, Unplaced
from recommender.problem import Problem
from recommender.reasons import capacity_reason, unfit_reason
from recommender.rules import fits, full_gpu_profile

NAME = "whole-gpu"


def whole_gpu_plan(problem: Problem, catalog: Catalog) -> Plan:
    """No MIG sharing: one replica per GPU on the model's full-GPU profile, cheapest pool first."""
    started = time.perf_counter()
    pools = problem.pools
    full = [full_gpu_profile(catalog.model(p.gpu_model)) for p in pools]
    taken = [0] * len(pools)
    gpus: list[PlanGpu] = []
    unplaced: dict[str, Unplaced] = {}
    for workload in serving_order(problem):
        allowed = [i for i, p in enumerate(pools) if workload.allows(p.gpu_model)]
        fitting = [
            i
            for i in allowed
            if fits(workload, pools[i].gpu_model, catalog.model(pools[i].gpu_model), full[i])
        ]
        fitting.sort(key=lambda i: (pools[i].cost_per_hour, i))
        replica = 0
        for i in fitting:
            profile = full[i]
            while replica < workload.replicas and taken[i] < pools[i].gpus:
                instance = PlanInstance(
                    profile=profile.name,
                    start=profile.starts[0],
                    workload=workload.name,
                    replica=replica,
                )
                gpus.append(
                    PlanGpu(
                        pool=pools[i].pool,
                        index=taken[i],
                        gpu_model=pools[i].gpu_model,
                        instances=[instance],
                    )
                )
                taken[i] += 1
                replica += 1
        if replica < workload.replicas:
            if fitting:
                reason = capacity_reason([pools[i] for i in fitting])
            else:
                options = [(pools[i].gpu_model, full[i]) for i in allowed]
                reason = unfit_reason(workload, options, "full-GPU", problem)
            unplaced[workload.name] = Unplaced(
                workload=workload.name, replicas=workload.replicas - replica, reason=reason
            )
    rank = {p.pool: i for i, p in enumerate(pools)}
    gpus.sort(key=lambda g: (rank[g.pool], g.index))
    ordered = [unplaced[w.name] for w in problem.workloads if w.name in unplaced]
    return heuristic_plan(problem, catalog, gpus, ordered, NAME, started)

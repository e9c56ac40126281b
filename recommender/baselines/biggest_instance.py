"""Baseline `biggest-instance`: every throughput workload on full-GPU instances.

How throughput services are often run without MIG: enough whole GPUs (the full-GPU profile, on
the GPU model whose whole GPU serves a request most cheaply) to cover the rate, at least
`replicas` of them. Count workloads get whole GPUs as in `whole-gpu`.
"""

from __future__ import annotations

from recommender.baselines.configured import configured_plan
from recommender.baselines.whole_gpu import whole_gpu_plan
from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.sizing import full_gpu_sizing

NAME = "biggest-instance"


def biggest_instance_plan(problem: Problem, catalog: Catalog) -> Plan:
    """Full-GPU instances for every throughput workload, one per GPU (status feasible, bound 0)."""
    return configured_plan(NAME, whole_gpu_plan, full_gpu_sizing, problem, catalog)

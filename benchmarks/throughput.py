"""Throughput benchmark: 1,000 services over ten profiled models on a 5,000-GPU fleet.

    python -m benchmarks.throughput [--time-limit 60] [--seed 0] [--json OUT]

The instance is SYNTHETIC (seeded), not measured: ten models whose throughput per profile follows
a per-model scaling curve T(g) = T_full * (g / 7) ** alpha (alpha 0.6..1.1: from sub-linear,
BERT-like, to linear, ResNet-like), each profile with a batch-1 row (fast, lower throughput) and
a batched row (slower, higher throughput); H100 rows are the A100-80GB ones x 2, A100-40GB
x 0.9, and a model needing more memory than a profile has gets no row there. The published
measurements are in data/throughput/performance.csv; this generator only makes a large, varied
table to measure the planner at scale. Reports the solver's cost, proven bound and gap, time,
peak memory, and both throughput baselines.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time

from recommender.baselines import BASELINES
from recommender.catalog import Catalog
from recommender.problem import PerformanceRow, Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.solve import SolveOptions, solve
from recommender.validate import validate_plan

POOLS = (("a100-80", "A100-80GB", 2500, 5.12), ("a100-40", "A100-40GB", 1500, 4.10))
POOLS += (("h100-80", "H100-80GB", 1000, 12.29),)
SPEED = {"A100-80GB": 1.0, "A100-40GB": 0.9, "H100-80GB": 2.0}


def generate(catalog: Catalog, services: int = 1000, models: int = 10, seed: int = 0) -> Problem:
    rng = random.Random(seed)
    rows: list[PerformanceRow] = []
    specs = []
    for m in range(models):
        name = f"model-{m}"
        full = rng.uniform(500, 20000)
        alpha = rng.uniform(0.6, 1.1)
        memory = rng.choice([2, 4, 8, 12, 18, 30])
        fast = rng.uniform(2, 40)  # ms, batch 1 on a full GPU
        specs.append((name, full, memory, fast))
        for key, speed in SPEED.items():
            model = catalog.model(key)
            for profile in model.profiles:
                if profile.attributes or profile.memory_mib < memory * 1024:
                    continue
                g = profile.compute_slices
                batched = round(full * speed * (g / 7) ** alpha, 3)
                latency = round(fast * (7 / g) ** 0.5, 3)
                rows.append(
                    PerformanceRow(
                        model=name,
                        gpu_model=key,
                        profile=profile.name,
                        throughput_rps=round(batched * 0.3, 3),
                        latency_ms=latency,
                        batch_size=1,
                    )
                )
                rows.append(
                    PerformanceRow(
                        model=name,
                        gpu_model=key,
                        profile=profile.name,
                        throughput_rps=batched,
                        latency_ms=round(latency * 5, 3),
                        batch_size=16,
                    )
                )
    workloads = []
    for s in range(services):
        name, full, memory, fast = rng.choice(specs)
        objective = None if rng.random() < 0.5 else round(fast * rng.uniform(1.2, 8), 3)
        workloads.append(
            Workload(
                name=f"svc-{s:04d}",
                memory_gb=memory,
                requests_per_second=round(full * rng.uniform(0.05, 4), 3),
                latency_ms=objective,
                model=name,
                replicas=rng.choice([1, 1, 2]),
                priority=rng.choice([1, 1, 2]),
            )
        )
    pools = tuple(Pool(pool=p, gpu_model=k, gpus=n, cost_per_hour=c) for p, k, n, c in POOLS)
    return Problem(workloads=tuple(workloads), pools=pools, performance=tuple(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    catalog = load_catalog()
    problem = generate(catalog, seed=args.seed)
    started = time.perf_counter()
    plan = solve(
        problem, catalog, SolveOptions(time_limit_seconds=args.time_limit, workers=args.workers)
    )
    seconds = time.perf_counter() - started
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    violations = validate_plan(plan, problem, catalog)
    result = {
        "services": len(problem.workloads),
        "rows": len(problem.performance),
        "gpus_available": sum(p.gpus for p in problem.pools),
        "status": plan.status,
        "cost_per_hour": plan.cost_per_hour,
        "lower_bound_per_hour": plan.lower_bound_per_hour,
        "gap": plan.summary.gap if plan.summary else None,
        "gpus_used": plan.summary.gpus_used if plan.summary else None,
        "unserved_workloads": len(plan.unplaced),
        "seconds": round(seconds, 1),
        "peak_memory_gib": round(peak_gib, 2),
        "valid": not violations,
        "baselines": {},
    }
    for key in ("biggest-instance", "best-per-slice"):
        t = time.perf_counter()
        base = BASELINES[key](problem, catalog)
        result["baselines"][key] = {
            "cost_per_hour": base.cost_per_hour,
            "gpus_used": base.summary.gpus_used if base.summary else None,
            "unserved_workloads": len(base.unplaced),
            "seconds": round(time.perf_counter() - t, 1),
            "valid": not validate_plan(base, problem, catalog),
        }
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())

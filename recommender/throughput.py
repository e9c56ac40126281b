"""Throughput demand: what one instance serves for a workload, from the measured performance table.

The one home of the selection rule (docs/design.md, "Throughput demand"): an instance of profile
p on GPU model G serves, for workload w, the best `throughput_rps` among the rows of w's model
for (G, p) whose `latency_ms` is at most w's `latency_ms` (rows without a latency always qualify;
a workload without a latency objective takes the best row) and whose memory (the row's
`memory_gb`, else the workload's) fits p's usable memory, with w's compute and media needs and
allowed GPU models (`rules.fits_demand`). Profiles without a row serve nothing: no interpolation.

Integer rates for the CP-SAT models. Rates are counted in integer milli-requests per second
(`RATE_SCALE`): a required rate is rounded *up* and what an instance serves is rounded *down*,
so a plan that covers the integer requirement covers the real one; coverage is never overstated
(with rates given to three decimals, as every sample is, both roundings are exact). The part of a
rate a plan leaves unserved is measured in `SERVED_SCALE` steps (1/1000 of the rate), rounded up.

`validate.py` keeps its own copy of the rule on purpose; every planner uses this one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from recommender.catalog import Catalog, GpuModel, Profile
from recommender.plan import PlanGpu, ThroughputServed, Unplaced
from recommender.problem import PerformanceRow, Problem, Workload
from recommender.rules import fits_demand

RATE_SCALE = 1000  # integer rates are milli-requests per second
SERVED_SCALE = 1000  # a throughput workload's served share is counted in 1/1000 steps
# Served and required rates are sums of floats: differences below this share are rounding.
RATE_TOLERANCE = 1e-9


def scaled_rate(requests_per_second: float) -> int:
    """A required rate in integer RATE_SCALE units, rounded up (never understates demand)."""
    return math.ceil(round(requests_per_second * RATE_SCALE, 6))


def scaled_throughput(throughput_rps: float) -> int:
    """What one instance serves in integer RATE_SCALE units, rounded down (never overstates)."""
    return math.floor(round(throughput_rps * RATE_SCALE, 6))


def qualifies(row: PerformanceRow, workload: Workload, model: GpuModel, profile: Profile) -> bool:
    """Whether `row` is a configuration `workload` may run on an instance of `profile`."""
    objective, measured = workload.latency_ms, row.latency_ms
    if objective is not None and measured is not None and measured > objective:
        return False
    memory = row.memory_gb if row.memory_gb is not None else workload.memory_gb
    return fits_demand(memory, workload.compute_slices, workload.media, model, profile)


class PerformanceIndex:
    """The performance table grouped by (model, GPU model, profile), for quick look-ups."""

    def __init__(self, rows: Iterable[PerformanceRow]) -> None:
        self._rows: dict[tuple[str, str, str], list[PerformanceRow]] = defaultdict(list)
        for row in rows:
            self._rows[row.model, row.gpu_model, row.profile].append(row)
        self.models = {model for model, _, _ in self._rows}
        self._best: dict[tuple[str, str, str], PerformanceRow | None] = {}

    def best(
        self, workload: Workload, model_key: str, model: GpuModel, profile: Profile
    ) -> PerformanceRow | None:
        """The configuration an instance of `profile` runs for `workload` (None: it serves
        nothing). Ties in throughput go to the row listed first."""
        if not workload.allows(model_key):
            return None
        key = (workload.performance_model, model_key, profile.name)
        memo = (workload.name, *key)
        if memo not in self._best:
            chosen: PerformanceRow | None = None
            for row in self._rows.get(key, ()):
                if qualifies(row, workload, model, profile) and (
                    chosen is None or row.throughput_rps > chosen.throughput_rps
                ):
                    chosen = row
            self._best[memo] = chosen
        return self._best[memo]

    def options(
        self, workload: Workload, model_key: str, model: GpuModel
    ) -> dict[str, PerformanceRow]:
        """Per profile of `model` that serves `workload`: the configuration it runs."""
        found = {}
        for profile in model.profiles:
            row = self.best(workload, model_key, model, profile)
            if row is not None and scaled_throughput(row.throughput_rps) > 0:
                found[profile.name] = row
        return found

    def has_rows(self, workload: Workload, model_key: str | None = None) -> bool:
        """Whether the table has any row for the workload's model (on `model_key`, if given)."""
        return any(
            m == workload.performance_model and (model_key is None or g == model_key)
            for m, g, _ in self._rows
        )


def performance_index(problem: Problem) -> PerformanceIndex:
    return PerformanceIndex(problem.performance)


def has_throughput(problem: Problem) -> bool:
    # `Workload.is_throughput`, read as the field: called on inputs of a million rows.
    return any(w.requests_per_second is not None for w in problem.workloads)


def best_instance_rate(
    workload: Workload, problem: Problem, catalog: Catalog, index: PerformanceIndex
) -> float:
    """The most one instance can serve for `workload` on any pool it may use (0: none)."""
    best = 0.0
    for key in {p.gpu_model for p in problem.pools if p.gpus > 0}:
        for row in index.options(workload, key, catalog.model(key)).values():
            best = max(best, row.throughput_rps)
    return best


def instances_needed(requests_per_second: float, throughput_rps: float) -> int:
    """Instances of one configuration that cover a rate, in the integer units of the models."""
    served = scaled_throughput(throughput_rps)
    return -(-scaled_rate(requests_per_second) // served) if served > 0 else 0


# --- plans ---------------------------------------------------------------------------------------


def configure(gpus: list[PlanGpu], problem: Problem, catalog: Catalog) -> list[PlanGpu]:
    """The GPUs with every instance hosting a throughput workload carrying its configuration.

    An instance on a profile where no row qualifies cannot serve the workload: it is left spare
    (workload null), so a plan never claims a configuration nobody measured. Count workloads'
    and spare instances keep null configuration fields.
    """
    if not has_throughput(problem):
        return gpus
    index = performance_index(problem)
    by_name = {w.name: w for w in problem.workloads}
    result = []
    for gpu in gpus:
        model = catalog.model(gpu.gpu_model)
        instances = []
        for inst in gpu.instances:
            workload = by_name.get(inst.workload) if inst.workload is not None else None
            if workload is None or not workload.is_throughput:
                instances.append(inst)
                continue
            profile = model.profile_by_name.get(inst.profile)
            row = index.best(workload, gpu.gpu_model, model, profile) if profile else None
            if row is None:
                instances.append(
                    inst.model_copy(
                        update={
                            "workload": None,
                            "replica": None,
                            "batch_size": None,
                            "processes": None,
                            "throughput_rps": None,
                        }
                    )
                )
                continue
            instances.append(
                inst.model_copy(
                    update={
                        "batch_size": row.batch_size,
                        "processes": row.processes,
                        "throughput_rps": row.throughput_rps,
                    }
                )
            )
        result.append(gpu.model_copy(update={"instances": instances}))
    return _renumber_replicas(result, problem)


def _renumber_replicas(gpus: list[PlanGpu], problem: Problem) -> list[PlanGpu]:
    """Throughput workloads' instances numbered 0..n-1 in plan order (after any were dropped)."""
    throughput = {w.name for w in problem.workloads if w.is_throughput}
    seen: dict[str, int] = defaultdict(int)
    result = []
    for gpu in gpus:
        instances = []
        for inst in gpu.instances:
            if inst.workload in throughput:
                inst = inst.model_copy(update={"replica": seen[inst.workload]})
                seen[inst.workload] += 1
            instances.append(inst)
        result.append(gpu.model_copy(update={"instances": instances}))
    return result


def served(gpus: list[PlanGpu]) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """Per workload: the rate its configured instances serve, and its instances per profile."""
    rate: dict[str, float] = defaultdict(float)
    mix: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for gpu in gpus:
        for inst in gpu.instances:
            if inst.workload is not None and inst.throughput_rps is not None:
                rate[inst.workload] += inst.throughput_rps
                mix[inst.workload][inst.profile] += 1
    return dict(rate), {name: dict(profiles) for name, profiles in mix.items()}


def covered(served_rps: float, required_rps: float) -> bool:
    """Whether a served rate meets a required one (up to float rounding of the sums)."""
    return served_rps >= required_rps * (1 - RATE_TOLERANCE)


def throughput_summary(gpus: list[PlanGpu], problem: Problem) -> list[ThroughputServed]:
    """Served vs required rate and the chosen profile mix of every throughput workload."""
    if not has_throughput(problem):
        return []  # nothing to report: no need to read every instance
    rate, mix = served(gpus)
    return [
        ThroughputServed(
            workload=w.name,
            model=w.performance_model,
            required_rps=w.requests_per_second,
            served_rps=round(rate.get(w.name, 0.0), 6),
            latency_ms=w.latency_ms,
            instances=sum(mix.get(w.name, {}).values()),
            profiles=mix.get(w.name, {}),
        )
        for w in problem.workloads
        if w.requests_per_second is not None
    ]


def reconcile_unplaced(
    gpus: list[PlanGpu], unplaced: list[Unplaced], problem: Problem, catalog: Catalog
) -> list[Unplaced]:
    """The unplaced list with one entry per throughput workload not fully served, from the plan.

    Whatever a planner said about throughput workloads, the entry is derived from the GPUs: it
    exists when the served rate is below the required one or fewer instances than `replicas` are
    placed; `replicas` is the instances still missing (at the best configuration the fleet
    offers it, or the minimum when it has none) and `requests_per_second` the unserved rate. The
    planner's reason is kept; without one, `reasons.throughput_reason` words it.
    """
    if not has_throughput(problem):
        return unplaced
    from recommender.reasons import throughput_reason  # reasons imports this module

    index = performance_index(problem)
    rate, mix = served(gpus)
    given = {u.workload: u for u in unplaced}
    result = []
    for w in problem.workloads:
        if not w.is_throughput:
            if w.name in given:
                result.append(given[w.name])
            continue
        assert w.requests_per_second is not None
        placed = sum(mix.get(w.name, {}).values())
        got = rate.get(w.name, 0.0)
        short = max(0.0, w.requests_per_second - got)
        if covered(got, w.requests_per_second) and placed >= w.replicas:
            continue
        best = best_instance_rate(w, problem, catalog, index)
        missing = max(1, w.replicas - placed)
        if best > 0 and not covered(got, w.requests_per_second):
            missing = max(missing, instances_needed(short, best))
        previous = given.get(w.name)
        reason = previous.reason if previous else throughput_reason(w, problem, catalog, index)
        result.append(
            Unplaced(
                workload=w.name,
                replicas=missing,
                reason=reason,
                requests_per_second=round(short, 6),
            )
        )
    return result

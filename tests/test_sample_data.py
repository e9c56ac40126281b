"""The bundled sample inputs (data/workloads.csv, data/fleet.csv) load cleanly and are placeable.

Fitting is checked against the catalog directly (usable memory, compute slices, media engines),
not through the solver, so a bad row is caught here in milliseconds with a precise message.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from recommender.catalog import Catalog, Profile
from recommender.problem import Problem, Workload
from recommender.reading import FLEET_COLUMNS, WORKLOAD_COLUMNS, load_catalog, load_problem
from recommender.reading.performance import THROUGHPUT_COLUMNS

DATA = Path(__file__).resolve().parent.parent / "data"
WORKLOADS_CSV = DATA / "workloads.csv"
FLEET_CSV = DATA / "fleet.csv"

EXPECTED_POOLS = {
    "a100-40-east": "A100-40GB",
    "a100-80-west": "A100-80GB",
    "h100-80-central": "H100-80GB",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def problem(catalog: Catalog) -> Problem:
    return load_problem(WORKLOADS_CSV, FLEET_CSV, catalog)


def fitting_profiles(workload: Workload, gpu_model: str, catalog: Catalog) -> list[Profile]:
    """Profiles of `gpu_model` that can host one replica of `workload`."""
    if not workload.allows(gpu_model):
        return []
    model = catalog.model(gpu_model)
    return [
        profile
        for profile in model.profiles
        if profile.memory_mib >= workload.memory_mib
        and profile.compute_slices >= workload.compute_slices
        and (not workload.media or model.media_capable(profile))
    ]


def header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def test_headers_are_exactly_the_design_columns() -> None:
    # Every documented column is present, so the sample exercises all of them.
    # The throughput columns are exercised by the throughput sample (data/throughput/).
    assert header(WORKLOADS_CSV) == [c for c in WORKLOAD_COLUMNS if c not in THROUGHPUT_COLUMNS]
    throughput_header = header(WORKLOADS_CSV.parent / "throughput" / "workloads.csv")
    assert set(THROUGHPUT_COLUMNS) <= set(throughput_header) <= set(WORKLOAD_COLUMNS)
    assert header(FLEET_CSV) == list(FLEET_COLUMNS)


def test_fleet_has_the_three_pools(problem: Problem) -> None:
    assert {p.pool: p.gpu_model for p in problem.pools} == EXPECTED_POOLS
    for pool in problem.pools:
        assert 8 <= pool.gpus <= 16, pool.pool
        assert pool.gpus_per_node == 8, pool.pool
    price = {p.gpu_model: p.cost_per_hour for p in problem.pools}
    # Public list prices rank these parts this way; a typo in a price would break it.
    assert 0 < price["A100-40GB"] < price["A100-80GB"] < price["H100-80GB"]


def test_workload_mix(problem: Problem) -> None:
    workloads = problem.workloads
    assert 35 <= len(workloads) <= 45
    assert any(w.media for w in workloads)
    assert any(w.spread and w.replicas >= 2 for w in workloads)
    assert any(w.gpu_models == ("H100-80GB",) for w in workloads)
    assert any(w.gpu_models == ("A100-80GB", "H100-80GB") for w in workloads)
    assert {2, 3} <= {w.priority for w in workloads}
    assert {1, 2, 3, 4, 7} <= {w.compute_slices for w in workloads}


def test_every_workload_fits_some_allowed_pool(problem: Problem, catalog: Catalog) -> None:
    fleet_models = {p.gpu_model for p in problem.pools}
    unfit = [
        w.name
        for w in problem.workloads
        if not any(fitting_profiles(w, model, catalog) for model in fleet_models)
    ]
    assert unfit == []


def test_spread_and_media_replicas_have_enough_gpus(problem: Problem, catalog: Catalog) -> None:
    # Spread replicas need distinct GPUs, and a GPU carries at most one +me instance, so each
    # such replica needs its own GPU among the pools where it fits.
    for w in problem.workloads:
        if not (w.spread or w.media):
            continue
        gpus = sum(p.gpus for p in problem.pools if fitting_profiles(w, p.gpu_model, catalog))
        assert gpus >= w.replicas, w.name


@pytest.mark.parametrize(
    ("memory_gb", "compute_slices", "media", "gpu_model", "expected"),
    [
        # 3g.20gb has 19.62 GiB usable, not the 20 in its name: 19.7 GiB needs the full GPU.
        (19.6, 3, False, "A100-40GB", ["3g.20gb", "4g.20gb", "7g.40gb"]),
        (19.7, 3, False, "A100-40GB", ["7g.40gb"]),
        (39.6, 1, False, "A100-40GB", []),
        # More compute than a profile has rules it out even when the memory fits.
        (4.0, 2, False, "A100-40GB", ["2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]),
        # Media: only +me profiles or the full GPU, which owns every engine.
        (4.0, 1, True, "A100-40GB", ["1g.5gb+me", "7g.40gb"]),
        (9.5, 1, True, "A100-80GB", ["1g.10gb+me", "7g.80gb"]),
        (9.6, 1, True, "A100-80GB", ["7g.80gb"]),
        (39.6, 1, True, "A100-40GB", []),
    ],
)
def test_fit_check_uses_usable_memory_compute_and_media(
    catalog: Catalog,
    memory_gb: float,
    compute_slices: int,
    media: bool,
    gpu_model: str,
    expected: list[str],
) -> None:
    workload = Workload(
        name="probe", memory_gb=memory_gb, compute_slices=compute_slices, media=media
    )
    assert [p.name for p in fitting_profiles(workload, gpu_model, catalog)] == expected


def test_fit_check_respects_gpu_models(catalog: Catalog) -> None:
    pinned = Workload(name="pinned", memory_gb=1, gpu_models=("H100-80GB",))
    assert fitting_profiles(pinned, "A100-80GB", catalog) == []
    assert fitting_profiles(pinned, "H100-80GB", catalog) != []

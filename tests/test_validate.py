"""The plan validator: a valid plan passes, and every kind of violation is caught and named."""

from __future__ import annotations

import ast
import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import Catalog, GpuModel
from recommender.plan import Plan
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.validate import profile_carries_media, validate_plan

CATALOG = load_catalog()

A100_PRICE = 3.0
H100_PRICE = 10.0
RTX_PRICE = 2.0

PROBLEM = Problem(
    workloads=(
        Workload(name="big", memory_gb=18, compute_slices=3),
        Workload(name="mid", memory_gb=9, compute_slices=2, gpu_models=("A100-40GB",)),
        Workload(name="small", memory_gb=4, replicas=3, spread=True),
        Workload(name="video", memory_gb=4, media=True),
        Workload(name="fat", memory_gb=6),
    ),
    pools=(
        Pool(pool="a100", gpu_model="A100-40GB", gpus=3, cost_per_hour=A100_PRICE),
        Pool(pool="h100", gpu_model="H100-80GB", gpus=1, cost_per_hour=H100_PRICE),
        Pool(pool="rtx", gpu_model="RTX-PRO-6000-96GB", gpus=1, cost_per_hour=RTX_PRICE),
    ),
)


def instance(profile: str, start: int, workload: str | None = None, replica: int | None = None):
    return {"profile": profile, "start": start, "workload": workload, "replica": replica}


def valid_plan() -> dict[str, Any]:
    """a100#0 has the guide's 3-2-1-1 layout; small's third replica is left unplaced."""
    return {
        "status": "feasible",
        "cost_per_hour": 2 * A100_PRICE,
        "lower_bound_per_hour": 5.0,
        "gpus": [
            {
                "pool": "a100",
                "index": 0,
                "gpu_model": "A100-40GB",
                "instances": [
                    instance("3g.20gb", 4, "big", 0),
                    instance("2g.10gb", 2, "mid", 0),
                    instance("1g.5gb", 0, "small", 0),
                    instance("1g.5gb", 1),
                ],
            },
            {
                "pool": "a100",
                "index": 1,
                "gpu_model": "A100-40GB",
                "instances": [
                    instance("1g.5gb+me", 0, "video", 0),
                    instance("1g.5gb", 1, "small", 1),
                    instance("1g.10gb", 2, "fat", 0),
                ],
            },
        ],
        "unplaced": [{"workload": "small", "replicas": 1, "reason": "no capacity left"}],
    }


def gpu(plan: dict, pool: str, index: int) -> dict:
    return next(g for g in plan["gpus"] if g["pool"] == pool and g["index"] == index)


def add_gpu(plan: dict, pool: str, index: int, model: str, price: float, *instances) -> None:
    plan["gpus"].append(
        {"pool": pool, "index": index, "gpu_model": model, "instances": list(instances)}
    )
    plan["cost_per_hour"] += price


def add_rtx(plan: dict, *instances) -> None:
    add_gpu(plan, "rtx", 0, "RTX-PRO-6000-96GB", RTX_PRICE, *instances)


# --- valid plans -------------------------------------------------------------------------------


def test_valid_plan_passes_as_dict_plan_and_json_text() -> None:
    plan = valid_plan()
    assert validate_plan(plan, PROBLEM, CATALOG) == []
    assert validate_plan(Plan.model_validate(plan), PROBLEM, CATALOG) == []
    assert validate_plan(json.dumps(plan), PROBLEM, CATALOG) == []
    assert validate_plan(json.dumps(plan).encode(), PROBLEM, CATALOG) == []


def _media_on_full_7g(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"][0] = instance("1g.5gb", 0)
    add_gpu(plan, "h100", 0, "H100-80GB", H100_PRICE, instance("7g.80gb", 0, "video", 0))


def _me_all_with_no_me_neighbours(plan: dict) -> None:
    add_rtx(
        plan,
        instance("1g.24gb+me.all", 0),
        instance("1g.24gb-me", 3),
        instance("2g.48gb-me", 6),
    )


def _rtx_quarters_and_half(plan: dict) -> None:
    add_rtx(plan, instance("1g.24gb", 0), instance("1g.24gb+gfx", 3), instance("2g.48gb", 6))


def _listed_gpu_without_instances(plan: dict) -> None:
    # Listed but empty: allowed, and it costs nothing.
    plan["gpus"].append({"pool": "a100", "index": 2, "gpu_model": "A100-40GB", "instances": []})


def _infeasible_with_nothing_placed(plan: dict) -> None:
    plan.update(status="infeasible", cost_per_hour=0.0, lower_bound_per_hour=0.0, gpus=[])
    plan["unplaced"] = [
        {"workload": w.name, "replicas": w.replicas, "reason": "none"} for w in PROBLEM.workloads
    ]


def _optimal_partial_plan(plan: dict) -> None:
    plan["status"] = "optimal"
    plan["lower_bound_per_hour"] = plan["cost_per_hour"]


def _cost_within_tolerance(plan: dict) -> None:
    plan["cost_per_hour"] += 1e-9


VALID_VARIANTS: list[Callable[[dict], None]] = [
    _media_on_full_7g,
    _me_all_with_no_me_neighbours,
    _rtx_quarters_and_half,
    _listed_gpu_without_instances,
    _infeasible_with_nothing_placed,
    _optimal_partial_plan,
    _cost_within_tolerance,
]


@pytest.mark.parametrize("mutate", VALID_VARIANTS, ids=lambda f: f.__name__.strip("_"))
def test_valid_variants_pass(mutate: Callable[[dict], None]) -> None:
    plan = valid_plan()
    mutate(plan)
    assert validate_plan(plan, PROBLEM, CATALOG) == []


# --- one mutation per violation kind -----------------------------------------------------------


def _illegal_start(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"].append(instance("2g.10gb", 5))


def _outside_axis(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"].append(instance("1g.10gb", 7))


def _overlap(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"].append(instance("2g.10gb", 2))


def _two_me(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"][1]["profile"] = "1g.5gb+me"


def _two_me_on_a30_different_profiles(plan: dict) -> None:
    # Two different +me profiles, each within its max_count: only the one-+me rule catches it.
    # The a30 pool is in A30_PROBLEM (see PROBLEM_FOR).
    add_gpu(plan, "a30", 0, "A30-24GB", 1.0, instance("1g.6gb+me", 0), instance("2g.12gb+me", 2))


def _me_all_next_to_plain(plan: dict) -> None:
    add_rtx(plan, instance("1g.24gb+me.all", 0), instance("1g.24gb", 3))


def _me_all_next_to_me(plan: dict) -> None:
    add_rtx(plan, instance("1g.24gb+me.all", 0), instance("1g.24gb+me", 3))


def _two_me_all(plan: dict) -> None:
    add_rtx(plan, instance("1g.24gb+me.all", 0), instance("2g.48gb+me.all", 6))


def _max_count(plan: dict) -> None:
    add_gpu(
        plan, "a100", 2, "A100-40GB", A100_PRICE, instance("4g.20gb", 0), instance("4g.20gb", 0)
    )


def _max_instances(plan: dict) -> None:
    eight = [instance("1g.5gb", start) for start in (0, 1, 2, 3, 4, 5, 6, 6)]
    add_gpu(plan, "a100", 2, "A100-40GB", A100_PRICE, *eight)


def _unknown_profile(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"][1]["profile"] = "1g.6gb"


def _memory_too_small(plan: dict) -> None:
    gpu(plan, "a100", 0)["instances"][3] = instance("1g.5gb", 1, "fat", 0)
    gpu(plan, "a100", 1)["instances"][2] = instance("1g.10gb", 2)


def _compute_too_small(plan: dict) -> None:
    gpu(plan, "a100", 0)["instances"][1] = instance("2g.10gb", 2, "fat", 0)
    gpu(plan, "a100", 1)["instances"][2] = instance("1g.10gb", 2, "mid", 0)


def _model_not_allowed(plan: dict) -> None:
    gpu(plan, "a100", 0)["instances"][1] = instance("2g.10gb", 2)
    add_gpu(plan, "h100", 0, "H100-80GB", H100_PRICE, instance("2g.20gb", 0, "mid", 0))


def _media_on_plain_profile(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"][0]["profile"] = "1g.5gb"


def _media_on_no_me_profile(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"][0] = instance("1g.5gb", 0)
    add_rtx(plan, instance("1g.24gb-me", 0, "video", 0))


def _spread_breach(plan: dict) -> None:
    gpu(plan, "a100", 0)["instances"][3] = instance("1g.5gb", 1, "small", 1)
    gpu(plan, "a100", 1)["instances"][1] = instance("1g.5gb", 1)


def _replica_hosted_twice(plan: dict) -> None:
    add_gpu(plan, "a100", 2, "A100-40GB", A100_PRICE, instance("3g.20gb", 0, "big", 0))


def _replica_out_of_range(plan: dict) -> None:
    gpu(plan, "a100", 1)["instances"][1]["replica"] = 3


def _half_reference(plan: dict) -> None:
    gpu(plan, "a100", 0)["instances"][3]["workload"] = "small"


def _unknown_workload_on_instance(plan: dict) -> None:
    gpu(plan, "a100", 0)["instances"][3].update(workload="ghost", replica=0)


def _counts_do_not_add_up(plan: dict) -> None:
    plan["unplaced"][0]["replicas"] = 2


def _unplaced_unknown_workload(plan: dict) -> None:
    plan["unplaced"].append({"workload": "ghost", "replicas": 1, "reason": "?"})


def _unplaced_listed_twice(plan: dict) -> None:
    plan["unplaced"].append({"workload": "small", "replicas": 1, "reason": "again"})


def _wrong_cost(plan: dict) -> None:
    plan["cost_per_hour"] = 7.0


def _bound_above_cost(plan: dict) -> None:
    plan["lower_bound_per_hour"] = 6.5


def _negative_bound(plan: dict) -> None:
    plan["lower_bound_per_hour"] = -1.0


def _nan_cost(plan: dict) -> None:
    plan["cost_per_hour"] = math.nan


def _unknown_pool(plan: dict) -> None:
    gpu(plan, "a100", 1)["pool"] = "a100-west"


def _index_out_of_range(plan: dict) -> None:
    gpu(plan, "a100", 1)["index"] = 3


def _duplicate_gpu(plan: dict) -> None:
    gpu(plan, "a100", 1)["index"] = 0


def _wrong_gpu_model(plan: dict) -> None:
    gpu(plan, "a100", 1)["gpu_model"] = "H100-80GB"


def _infeasible_with_gpus(plan: dict) -> None:
    plan["status"] = "infeasible"


# (mutation, substrings that must each match a violation; the list must be exactly that long)
VIOLATIONS: list[tuple[Callable[[dict], None], list[str]]] = [
    (_illegal_start, ["GPU a100#1: 2g.10gb@5: start 5 is not a legal start of 2g.10gb"]),
    (
        _outside_axis,
        [
            "GPU a100#1: 1g.10gb@7: start 7 is not a legal start",
            "GPU a100#1: 1g.10gb@7: occupies units 7..8, outside the 8-unit axis",
        ],
    ),
    (_overlap, ["GPU a100#1: 1g.10gb@2 and 2g.10gb@2 overlap on units 2..3"]),
    (
        _two_me,
        [
            "GPU a100#1: 2 +me instances (1g.5gb+me@0, 1g.5gb+me@1); at most one per GPU",
            "GPU a100#1: 2 instances of 1g.5gb+me; A100-40GB allows at most 1",
        ],
    ),
    (
        _two_me_on_a30_different_profiles,
        ["GPU a30#0: 2 +me instances (1g.6gb+me@0, 2g.12gb+me@2); at most one per GPU"],
    ),
    (
        _me_all_next_to_plain,
        ["GPU rtx#0: 1g.24gb@3 shares the GPU with +me.all instance 1g.24gb+me.all@0"],
    ),
    (
        _me_all_next_to_me,
        ["GPU rtx#0: 1g.24gb+me@3 shares the GPU with +me.all instance 1g.24gb+me.all@0"],
    ),
    (_two_me_all, ["GPU rtx#0: 2 +me.all instances (1g.24gb+me.all@0, 2g.48gb+me.all@6)"]),
    (
        _max_count,
        [
            "GPU a100#2: 2 instances of 4g.20gb; A100-40GB allows at most 1",
            "GPU a100#2: 4g.20gb@0 and 4g.20gb@0 overlap on units 0..3",
        ],
    ),
    (
        _max_instances,
        [
            "GPU a100#2: 8 instances; A100-40GB allows at most 7 per GPU",
            "GPU a100#2: 8 instances of 1g.5gb; A100-40GB allows at most 7",
            "GPU a100#2: 1g.5gb@6 and 1g.5gb@6 overlap on units 6..6",
        ],
    ),
    (_unknown_profile, ["GPU a100#1: 1g.6gb@1: profile '1g.6gb' does not exist on A100-40GB"]),
    (
        _memory_too_small,
        ["GPU a100#0: 1g.5gb@1: hosts fat replica 0, which needs 6 GiB of memory; 1g.5gb has 4.75"],
    ),
    (
        _compute_too_small,
        ["GPU a100#1: 1g.10gb@2: hosts mid replica 0, which needs 2 compute slices; 1g.10gb has 1"],
    ),
    (
        _model_not_allowed,
        ["GPU h100#0: 2g.20gb@0: hosts mid replica 0, which may run only on A100-40GB, not on"],
    ),
    (
        _media_on_plain_profile,
        ["GPU a100#1: 1g.5gb@0: hosts video replica 0, which needs media engines; 1g.5gb has none"],
    ),
    (
        _media_on_no_me_profile,
        ["GPU rtx#0: 1g.24gb-me@0: hosts video replica 0, which needs media"],
    ),
    (_spread_breach, ["GPU a100#0: hosts small replicas 0, 1, but small is spread"]),
    (
        _replica_hosted_twice,
        ["big replica 0 is hosted 2 times: GPU a100#0: 3g.20gb@4; GPU a100#2: 3g.20gb@0"],
    ),
    (
        _replica_out_of_range,
        [
            "GPU a100#1: 1g.5gb@1: hosts small replica 3, but small has 3 replica(s) (0..2)",
            "small: 1 replica(s) placed + 1 unplaced = 2, but it has 3",
        ],
    ),
    (_half_reference, ["GPU a100#0: 1g.5gb@1: workload ('small') and replica (None) must both"]),
    (_unknown_workload_on_instance, ["GPU a100#0: 1g.5gb@1: hosts unknown workload 'ghost'"]),
    (_counts_do_not_add_up, ["small: 2 replica(s) placed + 2 unplaced = 4, but it has 3"]),
    (_unplaced_unknown_workload, ["unplaced: unknown workload 'ghost'"]),
    (
        _unplaced_listed_twice,
        [
            "unplaced: small is listed 2 times",
            "small: 2 replica(s) placed + 2 unplaced = 4, but it has 3",
        ],
    ),
    (_wrong_cost, ["cost_per_hour is 7, but the 2 GPU(s) hosting instances cost 6 per hour"]),
    (_bound_above_cost, ["lower_bound_per_hour 6.5 is above cost_per_hour 6"]),
    (_negative_bound, ["lower_bound_per_hour is negative (-1)"]),
    (_nan_cost, ["cost_per_hour is nan, not a finite number"]),
    (
        _unknown_pool,
        [
            "GPU a100-west#1: pool 'a100-west' is not in the fleet",
            "cost_per_hour is 6, but the 1 GPU(s) hosting instances cost 3 per hour",
        ],
    ),
    (
        _index_out_of_range,
        ["GPU a100#3: index 3 is out of range (pool 'a100' has 3 GPU(s): 0..2)"],
    ),
    (
        _duplicate_gpu,
        [
            "GPU a100#0 appears 2 times",
            "GPU a100#0: hosts small replicas 0, 1, but small is spread",
            "cost_per_hour is 6, but the 1 GPU(s) hosting instances cost 3 per hour",
        ],
    ),
    (
        _wrong_gpu_model,
        ["GPU a100#1: gpu_model is 'H100-80GB' but pool 'a100' has A100-40GB"],
    ),
    (_infeasible_with_gpus, ["status is infeasible but the plan lists 2 GPU(s)"]),
]

A30_PROBLEM = PROBLEM.model_copy(
    update={
        "pools": (*PROBLEM.pools, Pool(pool="a30", gpu_model="A30-24GB", gpus=1, cost_per_hour=1))
    }
)
PROBLEM_FOR = {_two_me_on_a30_different_profiles: A30_PROBLEM}


@pytest.mark.parametrize(
    ("mutate", "expected"), VIOLATIONS, ids=[m.__name__.strip("_") for m, _ in VIOLATIONS]
)
def test_each_violation_is_reported(mutate: Callable[[dict], None], expected: list[str]) -> None:
    problem = PROBLEM_FOR.get(mutate, PROBLEM)
    plan = valid_plan()
    assert validate_plan(plan, problem, CATALOG) == []
    mutate(plan)
    violations = validate_plan(plan, problem, CATALOG)
    for text in expected:
        assert any(text in v for v in violations), f"{text!r} not in {violations}"
    assert len(violations) == len(expected), violations
    # The same plan as a Plan object and as JSON text is judged the same way.
    if not any(isinstance(v, float) and math.isnan(v) for v in plan.values()):
        assert validate_plan(json.dumps(plan), problem, CATALOG) == violations
    assert validate_plan(Plan.model_validate(plan), problem, CATALOG) == violations


# --- summary -----------------------------------------------------------------------------------


def _summary(**overrides: Any) -> dict[str, Any]:
    summary = {
        "cost_per_hour": 6.0,
        "cost_per_month": 6.0 * 730,
        "lower_bound_per_hour": 5.0,
        "gap": 0.2,
        "gpus_used": 2,
        "gpus_available": 5,
        "pools": [],
        "replicas_total": 7,
        "replicas_placed": 6,
        "replicas_unplaced": 1,
        "compute_utilization": 0.5,
        "memory_utilization": 0.5,
        "stranded_units": 0,
        "spare_instances": 1,
    }
    summary.update(overrides)
    return summary


def test_matching_summary_passes() -> None:
    plan = valid_plan()
    plan["summary"] = _summary()
    assert validate_plan(plan, PROBLEM, CATALOG) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "cost_per_hour",
            9.0,
            "summary.cost_per_hour is 9, but the GPUs hosting instances cost 6 per hour",
        ),
        ("gpus_used", 3, "summary.gpus_used is 3, but 2 GPU(s) host an instance"),
        ("replicas_placed", 7, "summary.replicas_placed is 7, but the plan places 6 replica(s)"),
    ],
)
def test_summary_disagreeing_with_plan(field: str, value: Any, expected: str) -> None:
    plan = valid_plan()
    plan["summary"] = _summary(**{field: value})
    assert validate_plan(plan, PROBLEM, CATALOG) == [expected]


# --- schema and input form ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan_text", "expected"),
    [
        ("{not json", "plan does not fit the plan schema: Invalid JSON"),
        ("", "plan does not fit the plan schema: Invalid JSON"),
        ("[]", "plan does not fit the plan schema: Input should be an object"),
    ],
)
def test_malformed_json_text(plan_text: str, expected: str) -> None:
    violations = validate_plan(plan_text, PROBLEM, CATALOG)
    assert len(violations) == 1
    assert violations[0].startswith(expected), violations


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda p: p.update(status="great"), "status:"),
        (lambda p: p.pop("unplaced"), "unplaced:"),
        (lambda p: p["gpus"][0]["instances"][0].update(start=-1), "gpus.0.instances.0.start:"),
        (lambda p: p["gpus"][0]["instances"][0].update(colour="red"), "gpus.0.instances.0.colour:"),
        (lambda p: p["unplaced"][0].update(replicas=0), "unplaced.0.replicas:"),
    ],
)
def test_schema_errors_become_violations(mutate: Callable[[dict], Any], where: str) -> None:
    plan = valid_plan()
    mutate(plan)
    for form in (plan, json.dumps(plan)):
        violations = validate_plan(form, PROBLEM, CATALOG)
        assert len(violations) == 1
        assert violations[0].startswith(f"plan does not fit the plan schema: {where}"), violations


def test_plan_object_mutated_after_construction_is_revalidated() -> None:
    plan = Plan.model_validate(valid_plan())
    plan.gpus[0].instances[0].start = -4  # pydantic does not validate assignments
    violations = validate_plan(plan, PROBLEM, CATALOG)
    assert len(violations) == 1
    assert "gpus.0.instances.0.start" in violations[0]


def test_unsupported_plan_type() -> None:
    assert validate_plan(42, PROBLEM, CATALOG) == [  # type: ignore[arg-type]
        "plan must be a Plan, a dict or JSON text, not int"
    ]


def test_pool_with_a_model_missing_from_the_catalog() -> None:
    problem = PROBLEM.model_copy(
        update={
            "pools": (*PROBLEM.pools, Pool(pool="x", gpu_model="X-1GB", gpus=1, cost_per_hour=1))
        }
    )
    assert validate_plan(valid_plan(), problem, CATALOG) == [
        "pool 'x': GPU model 'X-1GB' is not in the catalog"
    ]


# --- the media rule, and independence from the solver ------------------------------------------


def test_own_media_rule_agrees_with_catalog_method() -> None:
    checked = 0
    for model in CATALOG.models.values():
        for profile in model.profiles:
            assert profile_carries_media(model, profile) == model.media_capable(profile), (
                profile.name
            )
            checked += 1
    assert checked > 50


def test_validator_does_not_import_solver_code() -> None:
    source = Path(__file__).parents[1] / "recommender" / "validate.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    recommender_modules = {m for m in imported if m.startswith("recommender")}
    assert recommender_modules <= {
        "recommender.catalog",
        "recommender.plan",
        "recommender.problem",
    }


# --- property: accepted exactly when a brute-force reference says the layout is legal ----------


def reference_layout_is_legal(model: GpuModel, placements: list[tuple[str, int]]) -> bool:
    """Brute force over the unit axis: a different route to the placement rules 1-4 of
    docs/design.md ("Placement rules")."""
    by_name = {p.name: p for p in model.profiles}
    occupied = [0] * model.placement_units
    for name, start in placements:
        profile = by_name[name]
        if start not in profile.starts:
            return False
        for unit in range(start, start + profile.span):
            if unit >= model.placement_units:
                return False
            occupied[unit] += 1
    if any(count > 1 for count in occupied):
        return False
    attributes = [by_name[name].attributes for name, _ in placements]
    if sum("me" in a for a in attributes) > 1 or sum("me.all" in a for a in attributes) > 1:
        return False
    if any("me.all" in a for a in attributes):
        others = [a for a in attributes if "me.all" not in a]
        if not all("-me" in a for a in others):
            return False
    counts = Counter(name for name, _ in placements)
    if any(count > by_name[name].max_count for name, count in counts.items()):
        return False
    return len(placements) <= model.max_instances


@st.composite
def random_layouts(
    draw: st.DrawFn, catalog: Catalog = CATALOG
) -> tuple[str, list[tuple[str, int]]]:
    """A model and (profile, start) pairs; half the time built to be legal except for media rules.

    Fully random pairs are almost never a valid layout, so "tidy" cases draw legal starts only
    and drop pairs that would overlap; the one-+me, +me.all and max_count rules then decide.
    """
    key = draw(st.sampled_from(sorted(catalog.models)))
    model = catalog.model(key)
    tidy = draw(st.booleans())
    occupied: set[int] = set()
    placements = []
    for _ in range(draw(st.integers(0, 7))):
        profile = draw(st.sampled_from(model.profiles))
        if tidy:
            start = draw(st.sampled_from(profile.starts))
            units = set(range(start, start + profile.span))
            if units & occupied:
                continue
            occupied |= units
        else:
            start = draw(st.sampled_from(profile.starts) | st.integers(0, model.placement_units))
        placements.append((profile.name, start))
    return key, placements


@settings(max_examples=200, deadline=None)
@given(random_layouts())
def test_validator_agrees_with_brute_force_reference(
    case: tuple[str, list[tuple[str, int]]],
) -> None:
    key, placements = case
    problem = Problem(
        workloads=(Workload(name="w", memory_gb=1),),
        pools=(Pool(pool="p", gpu_model=key, gpus=1, cost_per_hour=1.5),),
    )
    plan = {
        "status": "feasible",
        "cost_per_hour": 1.5 if placements else 0.0,
        "lower_bound_per_hour": 0.0,
        "gpus": [
            {
                "pool": "p",
                "index": 0,
                "gpu_model": key,
                "instances": [instance(name, start) for name, start in placements],
            }
        ],
        "unplaced": [{"workload": "w", "replicas": 1, "reason": "not asked to place"}],
    }
    violations = validate_plan(plan, problem, CATALOG)
    assert (violations == []) == reference_layout_is_legal(CATALOG.model(key), placements), (
        violations
    )
    for violation in violations:
        assert violation.startswith("GPU p#0: "), violation

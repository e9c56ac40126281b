"""Reading the running fleet (`--current`): plan JSON or plan CSV, and every way it can be wrong."""

from __future__ import annotations

import json
import time

import pytest

from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.exports import plan_to_csv
from recommender.plan import PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.reading.current import load_current
from recommender.solve import SolveOptions, solve

PROBLEM = Problem(
    workloads=(
        Workload(name="web", memory_gb=4, replicas=3),
        Workload(name="=calc", memory_gb=9, compute_slices=2, replicas=1),
    ),
    pools=(
        Pool(pool="a100", gpu_model="A100-40GB", gpus=4, cost_per_hour=2.0),
        Pool(pool="h100", gpu_model="H100-80GB", gpus=2, cost_per_hour=5.0),
    ),
)


def gpu(pool: str, index: int, *instances: tuple[str, int, str | None, int | None]) -> dict:
    model = "A100-40GB" if pool == "a100" else "H100-80GB"
    return {
        "pool": pool,
        "index": index,
        "gpu_model": model,
        "instances": [
            {"profile": p, "start": s, "workload": w, "replica": r} for p, s, w, r in instances
        ],
    }


def state(*gpus: dict) -> bytes:
    return json.dumps({"gpus": list(gpus)}).encode()


def messages(source: bytes, label: str = "current.json") -> list[str]:
    with pytest.raises(InputError) as caught:
        load_current(source, PROBLEM, load_catalog(), label)
    return [str(issue) for issue in caught.value.issues]


# --- good input --------------------------------------------------------------------------------


def test_plan_json_round_trips_and_only_gpus_is_required(catalog: Catalog) -> None:
    plan = solve(PROBLEM, catalog, SolveOptions(time_limit_seconds=5))
    assert plan.gpus
    assert load_current(plan.to_json().encode(), PROBLEM, catalog, "plan.json") == plan.gpus
    minimal = {"gpus": [g.model_dump(include={"pool", "index", "instances"}) for g in plan.gpus]}
    minimal["anything else"] = {"is": "ignored"}
    assert load_current(json.dumps(minimal).encode(), PROBLEM, catalog) == plan.gpus


def test_plan_csv_round_trips_with_guarded_names(catalog: Catalog) -> None:
    plan = solve(PROBLEM, catalog, SolveOptions(time_limit_seconds=5))
    text = plan_to_csv(plan, PROBLEM, catalog)
    assert "'=calc" in text  # the export guards the formula-like name...
    loaded = load_current(text.encode(), PROBLEM, catalog, "plan.csv")
    assert loaded == plan.gpus  # ...and reading gives the name back
    # Content decides when the name does not: a CSV under a neutral name.
    assert load_current(text.encode(), PROBLEM, catalog, "state") == plan.gpus


def test_stopped_replicas_become_spares(catalog: Catalog) -> None:
    source = state(
        gpu("a100", 1, ("1g.5gb", 0, "gone", 0), ("1g.5gb", 1, "web", 7), ("1g.5gb", 2, "web", 2))
    )
    [loaded] = load_current(source, PROBLEM, catalog)
    assert [(i.workload, i.replica) for i in loaded.instances] == [
        (None, None),
        (None, None),
        ("web", 2),
    ]
    # Stopped replicas never collide with running ones.
    twice = state(
        gpu("a100", 0, ("1g.5gb", 0, "gone", 0)), gpu("a100", 1, ("1g.5gb", 0, "gone", 0))
    )
    assert len(load_current(twice, PROBLEM, catalog)) == 2


def test_gpus_come_back_in_pool_order_with_instances_by_start(catalog: Catalog) -> None:
    source = state(
        gpu("h100", 1, ("7g.80gb", 0, "web", 0)),
        gpu("a100", 2, ("1g.5gb", 6, "web", 1), ("1g.5gb", 0, None, None)),
    )
    loaded = load_current(source, PROBLEM, catalog)
    assert [(g.pool, g.index) for g in loaded] == [("a100", 2), ("h100", 1)]
    assert [i.start for i in loaded[0].instances] == [0, 6]
    assert loaded[1].gpu_model == "H100-80GB"


def test_empty_gpus_list_is_an_idle_fleet(catalog: Catalog) -> None:
    assert load_current(b'{"gpus": []}', PROBLEM, catalog) == []


def test_twenty_thousand_gpus_read_in_seconds(catalog: Catalog) -> None:
    pools = (Pool(pool="big", gpu_model="A100-40GB", gpus=20_000, cost_per_hour=1.0),)
    problem = Problem(workloads=(Workload(name="w", memory_gb=4, replicas=140_000),), pools=pools)
    gpus = [
        {
            "pool": "big",
            "index": i,
            "instances": [
                {"profile": "1g.5gb", "start": s, "workload": "w", "replica": 7 * i + s}
                for s in range(7)
            ],
        }
        for i in range(20_000)
    ]
    started = time.perf_counter()
    loaded = load_current(json.dumps({"gpus": gpus}).encode(), problem, catalog)
    assert len(loaded) == 20_000
    assert time.perf_counter() - started < 30


# --- bad input: every problem at once, naming the GPU ------------------------------------------


def test_identity_problems_name_the_gpu() -> None:
    found = messages(
        state(
            gpu("nope", 0, ("1g.5gb", 0, "web", 0)),
            gpu("a100", 4, ("1g.5gb", 0, "web", 1)),
            gpu("a100", 1, ("1g.5gb", 0, None, None)),
            gpu("a100", 1, ("1g.5gb", 1, None, None)),
        )
    )
    assert found[0].startswith("current.json: gpu nope#0: unknown pool 'nope'")
    assert "a100, h100" in found[0]
    assert found[1] == (
        "current.json: gpu a100#4: index 4 is outside pool 'a100' (4 GPU(s): indices 0..3)"
    )
    assert found[2] == "current.json: gpu a100#1: listed 2 times (a GPU appears once)"
    assert len(found) == 3


def test_layout_problems_name_the_gpu_and_the_rule() -> None:
    found = messages(
        state(
            gpu("a100", 0, ("9g.99gb", 0, None, None)),
            gpu("a100", 1, ("3g.20gb", 2, None, None)),
            gpu("a100", 2, ("4g.20gb", 0, None, None), ("3g.20gb", 0, None, None)),
            gpu("h100", 0, ("1g.10gb+me", 0, None, None), ("1g.10gb+me", 1, None, None)),
        )
    )
    assert found[0].startswith("current.json: gpu a100#0: unknown profile 9g.99gb for A100-40GB")
    assert "current.json: gpu a100#1: breaks the MIG rules: 3g.20gb cannot start at 2" in found[1]
    assert "gpu a100#2: breaks the MIG rules" in found[2] and "overlaps" in found[2]
    assert any("gpu h100#0" in m and "more than one +me" in m for m in found)


def test_a_replica_hosted_twice_is_refused() -> None:
    found = messages(
        state(gpu("a100", 0, ("1g.5gb", 0, "web", 0)), gpu("a100", 1, ("1g.5gb", 3, "web", 0)))
    )
    assert found == [
        "current.json: web replica 0 is hosted 2 times (gpu a100#0 1g.5gb@0; gpu a100#1 1g.5gb@3)"
    ]


def test_gpu_model_must_be_the_pools() -> None:
    entry = gpu("a100", 0, ("1g.5gb", 0, None, None))
    entry["gpu_model"] = "H100-80GB"
    assert messages(state(entry)) == [
        "current.json: gpu a100#0: gpu_model is H100-80GB, but pool 'a100' has A100-40GB"
    ]
    entry["gpu_model"] = "NVIDIA A100-SXM4-40GB"  # an nvidia-smi alias is the same model
    assert load_current(state(entry), PROBLEM, load_catalog())


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"pool": "a100", "index": "3"}, "gpus[0]: index must be a whole number >= 0, not '3'"),
        ({"pool": "a100", "index": True}, "gpus[0]: index must be a whole number >= 0, not True"),
        ({"pool": "a100", "index": -1}, "gpus[0]: index must be a whole number >= 0, not -1"),
        ({"pool": 7, "index": 0}, "gpus[0]: pool must be a non-empty text, not 7"),
        ({"index": 0}, "gpus[0]: pool must be a non-empty text, not null"),
        ("a100#0", "gpus[0]: expected an object with pool and index"),
        (
            {"pool": "a100", "index": 0, "instances": {"profile": "1g.5gb"}},
            "gpu a100#0: instances must be a list",
        ),
        (
            {"pool": "a100", "index": 0, "instances": [{"profile": "1g.5gb", "start": 1.5}]},
            "gpu a100#0: instances[0]: start must be a whole number >= 0, not 1.5",
        ),
        (
            {"pool": "a100", "index": 0, "instances": [{"profile": None, "start": 0}]},
            "gpu a100#0: instances[0]: profile must be a profile name, not null",
        ),
        (
            {
                "pool": "a100",
                "index": 0,
                "instances": [{"profile": "1g.5gb", "start": 0, "workload": "web"}],
            },
            "gpu a100#0: instances[0]: workload and replica must both be set or both be null",
        ),
        (
            {
                "pool": "a100",
                "index": 0,
                "instances": [{"profile": "1g.5gb", "start": 0, "workload": 3, "replica": 0}],
            },
            "gpu a100#0: instances[0]: workload must be a name or null, not 3",
        ),
    ],
)
def test_wrong_types_are_reported_not_raised(entry: object, expected: str) -> None:
    found = messages(json.dumps({"gpus": [entry]}).encode())
    assert any(expected in message for message in found), found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b"", "current.json: file is empty"),
        (b" \n\t", "current.json: file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "current.json:1: byte 0x89 is not valid UTF-8"),
        (b'{"gpus": [{"pool": "a100", "ind', "current.json:1: not valid JSON"),
        (b"[1, 2, 3]", "expected a plan JSON object with a `gpus` list"),
        (b'{"gpus": {"pool": "a100"}}', "expected a plan JSON object with a `gpus` list"),
        (b'{"status": "optimal"}', "expected a plan JSON object with a `gpus` list"),
        (b'{"gpus": [], "gpus": []}', "duplicate key"),
    ],
)
def test_hostile_json(source: bytes, expected: str) -> None:
    found = messages(source)
    assert any(expected in message for message in found), found


def test_huge_broken_file_reports_everything_without_a_traceback() -> None:
    gpus = [{"pool": "a100", "index": 1000 + i, "instances": []} for i in range(5_000)]
    found = messages(json.dumps({"gpus": gpus}).encode())
    assert len(found) == 5_000
    assert all("is outside pool 'a100'" in message for message in found)


# --- CSV -----------------------------------------------------------------------------------------


CSV_HEADER = "pool,gpu_index,profile,start,workload,replica\n"


def test_csv_needs_only_the_identifying_columns(catalog: Catalog) -> None:
    text = CSV_HEADER + "a100,2,1g.5gb,0,web,0\na100,2,3g.20gb,4,,\nh100,0,7g.80gb,0,=calc,0\n"
    loaded = load_current(text.encode(), PROBLEM, catalog, "current.csv")
    assert [(g.pool, g.index, len(g.instances)) for g in loaded] == [("a100", 2, 2), ("h100", 0, 1)]
    assert loaded[1].instances[0].workload == "=calc"


def test_csv_problems_carry_their_line() -> None:
    text = (
        CSV_HEADER
        + "a100,2,1g.5gb,0,web,0\n"
        + "a100,x,1g.5gb,1,web,1\n"
        + "a100,3,1g.5gb,one,web,1\n"
        + "a100,3,1g.5gb,0,web,\n"
    )
    found = messages(text.encode(), "current.csv")
    assert found[0].startswith("current.csv:3: gpu_index: 'x' is not a whole number")
    assert found[1].startswith("current.csv:4: start: 'one' is not a whole number")
    assert len(found) == 2
    found = messages((CSV_HEADER + "a100,3,1g.5gb,0,web,\n").encode(), "current.csv")
    assert found == [
        "current.csv:2: gpu a100#3: workload and replica must both be set or both be empty"
    ]


def test_csv_gpu_problems_name_the_first_row_of_the_gpu() -> None:
    text = CSV_HEADER + "a100,1,1g.5gb,0,web,0\nx100,0,1g.5gb,0,,\na100,1,1g.5gb,0,,\n"
    found = messages(text.encode(), "current.csv")
    assert found[0].startswith("current.csv:2: gpu a100#1: breaks the MIG rules")
    assert found[1].startswith("current.csv:3: gpu x100#0: unknown pool 'x100'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "current.csv: file is empty"),
        ("pool,gpu_index,profile\n", "current.csv:1: start: required column is missing"),
        ("pool,gpu_index,profile,start,colour\n", "current.csv:1: colour: unknown column"),
        (CSV_HEADER, "current.csv: no data rows after the header"),
        (CSV_HEADER + 'a100,0,"1g.5gb,0,,\n', "quoted field is never closed"),
    ],
)
def test_hostile_csv(text: str, expected: str) -> None:
    found = messages(text.encode(), "current.csv")
    assert any(expected in message for message in found), found


def test_a_missing_file_is_an_input_error(catalog: Catalog, tmp_path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_current(tmp_path / "nowhere.json", PROBLEM, catalog)


def test_loaded_state_is_plan_gpus(catalog: Catalog) -> None:
    [loaded] = load_current(state(gpu("a100", 0, ("7g.40gb", 0, "web", 1))), PROBLEM, catalog)
    assert loaded == PlanGpu(
        pool="a100",
        index=0,
        gpu_model="A100-40GB",
        instances=[PlanInstance(profile="7g.40gb", start=0, workload="web", replica=1)],
    )


# --- the workloads column for the rollout -----------------------------------------------------


def test_max_unavailable_column_defaults_to_one(catalog: Catalog) -> None:
    from recommender.reading.problem import read_workloads

    text = b"name,memory_gb,replicas,max_unavailable\na,4,3,0\nb,4,3,\nc,4,2,5\n"
    workloads = read_workloads(text, catalog)
    assert [(w.name, w.max_unavailable) for w in workloads] == [("a", 0), ("b", 1), ("c", 5)]
    assert read_workloads(b"name,memory_gb\nd,4\n", catalog)[0].max_unavailable == 1


def test_max_unavailable_column_rejects_what_is_not_a_count(catalog: Catalog) -> None:
    from recommender.reading.problem import read_workloads

    text = b"name,memory_gb,max_unavailable\na,4,-1\nb,4,x\nc,4,1.5\nd,4,true\n"
    with pytest.raises(InputError) as caught:
        read_workloads(text, catalog)
    allowed = "(expected a whole number >= 0)"
    assert [str(issue) for issue in caught.value.issues] == [
        f"workloads.csv:2: max_unavailable: -1 is out of range {allowed}",
        f"workloads.csv:3: max_unavailable: 'x' is not a whole number {allowed}",
        f"workloads.csv:4: max_unavailable: 1.5 is not a whole number {allowed}",
        f"workloads.csv:5: max_unavailable: 'true' is not a whole number {allowed}",
    ]

"""CSV readers: every problem reported at once as file:line: column: message."""

from __future__ import annotations

import pytest

from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.reading import load_problem, read_fleet, read_workloads
from recommender.solve import SolveOptions, solve
from tests.conftest import assert_valid

FLEET = b"pool,gpu_model,gpus,cost_per_hour\na100,A100-40GB,4,2.5\n"


def problems(source: bytes, catalog: Catalog, reader=read_workloads) -> list[str]:
    with pytest.raises(InputError) as caught:
        reader(source, catalog)
    return [str(issue) for issue in caught.value.issues]


def test_defaults_aliases_and_booleans(catalog: Catalog) -> None:
    text = (
        b"name,memory_gb,gpu_models,media,spread,replicas\n"
        b"a,4,,yes,0,\n"
        b"b,8.5,NVIDIA A100-SXM4-40GB|h100-80gb,FALSE,True,3\n"
        b"c,2,any,,,2\n"
    )
    a, b, c = read_workloads(text, catalog)
    assert (a.compute_slices, a.replicas, a.priority, a.media, a.spread, a.gpu_models) == (
        1,
        1,
        1,
        True,
        False,
        None,
    )
    assert (
        b.gpu_models == ("A100-40GB", "H100-80GB") and b.spread and not b.media and b.replicas == 3
    )
    assert c.gpu_models is None and c.replicas == 2


def test_every_problem_is_reported_at_once(catalog: Catalog) -> None:
    text = (
        b"name,memory_gb,compute_slices,replicas,priority,media\n"
        b"a,abc,1,1,1,false\n"
        b"b,0,8,1,1,false\n"
        b"c,-3,2,0,x,maybe\n"
        b"a,4,1.5,1,1,false\n"
    )
    found = problems(text, catalog)
    assert "workloads.csv:2: memory_gb: 'abc' is not a number (expected a number > 0)" in found
    assert "workloads.csv:3: memory_gb: 0 is out of range (expected a number > 0)" in found
    assert (
        "workloads.csv:3: compute_slices: 8 is out of range (expected a whole number 1..7)" in found
    )
    assert "workloads.csv:4: replicas: 0 is out of range (expected a whole number >= 1)" in found
    assert (
        "workloads.csv:4: priority: 'x' is not a whole number (expected a whole number >= 1)"
        in found
    )
    assert any(s.startswith("workloads.csv:4: media: 'maybe' is not a yes/no value") for s in found)
    assert (
        "workloads.csv:5: compute_slices: 1.5 is not a whole number (expected a whole number 1..7)"
        in found
    )
    assert (
        "workloads.csv:5: name: 'a' is used twice (first on line 2); names must be unique" in found
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"", "workloads.csv: file is empty (expected a header row)"),
        (b"name,memory_gb\n", "workloads.csv: no data rows after the header"),
        (b"name\nx\n", "workloads.csv:1: memory_gb: required column is missing"),
        (
            b"name,memory_gb,colour\nx,1,red\n",
            "workloads.csv:1: colour: unknown column (allowed: name, memory_gb,",
        ),
        (
            b"name,memory_gb\nx,1\xe9\n",
            "workloads.csv:2: byte 0xe9 is not valid UTF-8 (save the file as UTF-8)",
        ),
        (
            b"name,memory_gb,gpu_models\nx,1,A100-40G\n",
            "workloads.csv:2: gpu_models: unknown GPU model 'A100-40G' (did you mean A100-40GB?",
        ),
    ],
)
def test_structural_problems(catalog: Catalog, text: bytes, expected: str) -> None:
    assert any(s.startswith(expected) for s in problems(text, catalog)), problems(text, catalog)


def test_quoted_fields_keep_commas_and_line_numbers(catalog: Catalog) -> None:
    text = b'name,memory_gb\n"llama, 8b",4\n"multi\nline",5\nbad,zero\n'
    with pytest.raises(InputError) as caught:
        read_workloads(text, catalog)
    assert [str(i) for i in caught.value.issues] == [
        "workloads.csv:5: memory_gb: 'zero' is not a number (expected a number > 0)"
    ]
    first, second = read_workloads(text.replace(b"zero", b"1"), catalog)[:2]
    assert first.name == "llama, 8b" and second.name == "multi\nline"


def test_byte_order_mark_and_spaces_are_accepted(catalog: Catalog) -> None:
    (pool,) = read_fleet(
        b"\xef\xbb\xbfpool, gpu_model, gpus, cost_per_hour\np, A30, 2, 1.25\n", catalog
    )
    assert (pool.pool, pool.gpu_model, pool.gpus, pool.cost_per_hour, pool.gpus_per_node) == (
        "p",
        "A30-24GB",
        2,
        1.25,
        8,
    )


def test_fleet_problems(catalog: Catalog) -> None:
    text = b"pool,gpu_model,gpus,cost_per_hour,gpus_per_node\np,B300,-1,free,0\np,A30-24GB,1,1,8\n"
    found = problems(text, catalog, read_fleet)
    assert any(s.startswith("fleet.csv:2: gpu_model: unknown GPU model 'B300'") for s in found)
    assert "fleet.csv:2: gpus: -1 is out of range (expected a whole number >= 0)" in found
    assert "fleet.csv:2: cost_per_hour: 'free' is not a number (expected a number >= 0)" in found
    assert "fleet.csv:2: gpus_per_node: 0 is out of range (expected a whole number >= 1)" in found
    assert "fleet.csv:3: pool: 'p' is used twice (first on line 2); names must be unique" in found


def test_both_files_are_checked_together_and_nothing_is_half_applied(catalog: Catalog) -> None:
    workloads = b"name,memory_gb,gpu_models\nx,1,B200-180GB\ny,bad,\n"
    with pytest.raises(InputError) as caught:
        load_problem(workloads, b"pool,gpu_model,gpus\np,A30,1\n", catalog)
    found = [str(i) for i in caught.value.issues]
    assert any(s.startswith("workloads.csv:3: memory_gb") for s in found)
    assert any(
        s.startswith("fleet.csv:1: cost_per_hour: required column is missing") for s in found
    )


def test_a_known_model_without_a_pool_is_planned_and_reported_unplaced(
    catalog: Catalog,
) -> None:
    """A fact about the fleet (e.g. a pool removed in a what-if), not an input error; an unknown
    model name stays one."""
    workloads = b"name,memory_gb,gpu_models\nx,1,B200-180GB|H100-80GB\ny,1,\n"
    problem = load_problem(workloads, FLEET, catalog)
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=5))
    assert_valid(plan, problem, catalog)
    assert [(u.workload, u.replicas, u.reason) for u in plan.unplaced] == [
        ("x", 1, "no pool of B200-180GB or H100-80GB in the fleet")
    ]
    with pytest.raises(InputError, match="unknown GPU model 'B200-180G'"):
        load_problem(b"name,memory_gb,gpu_models\nx,1,B200-180G\n", FLEET, catalog)


def test_replica_cap(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="2,000,000 replicas in all; at most 1,000,000"):
        read_workloads(
            b"name,memory_gb,replicas\nx,1,1000000\ny,1,1000000\n", catalog, max_replicas=1_000_000
        )


def test_report_is_capped_for_huge_broken_files(catalog: Catalog) -> None:
    text = b"name,memory_gb\n" + b"".join(b"w%d,oops\n" % i for i in range(1000))
    with pytest.raises(InputError) as caught:
        read_workloads(text, catalog)
    report = caught.value.report().splitlines()
    assert len(caught.value.issues) == 1000
    assert len(report) == 201 and report[-1] == "... and 800 more problems"

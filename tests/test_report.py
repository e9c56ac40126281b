"""The CLI's text (recommender/report.py) on hand-made plans, checked line by line.

The plan here is written by hand, so every number in the expected text can be worked out on
paper; the validator still checks it, like every plan a test produces.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recommender import rules
from recommender.catalog import Catalog
from recommender.exports import kubernetes_resources, plan_to_mig_parted
from recommender.layouts import Layout, Placement
from recommender.plan import (
    Plan,
    PlanGpu,
    PlanInstance,
    PoolSummary,
    SolverStats,
    Summary,
    Unplaced,
)
from recommender.problem import Pool, Problem, Workload
from recommender.report import (
    format_gap,
    format_model_details,
    format_model_table,
    format_plan_summary,
    format_progress,
    format_table,
    format_written,
)
from recommender.solve import Progress
from tests.conftest import assert_valid

A100 = "A100-40GB"
H100 = "H100-80GB"


@pytest.fixture(scope="module")
def problem() -> Problem:
    return Problem(
        workloads=(
            Workload(name="llm", memory_gb=18, compute_slices=3, replicas=2),
            Workload(name="embed", memory_gb=4, replicas=3),
            Workload(name="huge", memory_gb=100, compute_slices=7, replicas=2),
        ),
        pools=(
            Pool(pool="a100", gpu_model=A100, gpus=3, cost_per_hour=2.0),
            Pool(pool="h100", gpu_model=H100, gpus=1, cost_per_hour=5.0),
        ),
    )


def _a100(index: int, instances: list[tuple[str, int, str | None, int | None]]) -> PlanGpu:
    """An a100 GPU from (profile, start, workload, replica) tuples."""
    return PlanGpu(
        pool="a100",
        index=index,
        gpu_model=A100,
        instances=[
            PlanInstance(profile=profile, start=start, workload=workload, replica=replica)
            for profile, start, workload, replica in instances
        ],
    )


def _gpus() -> list[PlanGpu]:
    """Two a100 GPUs with the same 3-2-1-1 multiset at other starts (listed in start order,
    smallest first, so the report must sort them); a100 GPU 2 and the h100 stay empty."""
    return [
        _a100(
            0,
            [
                ("1g.5gb", 0, "embed", 0),
                ("1g.5gb", 1, "embed", 1),
                ("2g.10gb", 2, None, None),
                ("3g.20gb", 4, "llm", 0),
            ],
        ),
        _a100(
            1,
            [
                ("2g.10gb", 0, None, None),
                ("1g.5gb", 2, "embed", 2),
                ("1g.5gb", 3, None, None),
                ("3g.20gb", 4, "llm", 1),
            ],
        ),
        _a100(2, []),
    ]


@pytest.fixture(scope="module")
def plan(problem: Problem, catalog: Catalog) -> Plan:
    """Cost 2 x $2 = $4/h against a $3.50 bound; 5 of 7 replicas placed, `huge` fits nowhere.

    Compute 9 of 14 slices (64.3%), memory 48 of 80 GiB (60.0%), three spare instances on
    5 axis units.
    """
    made = Plan(
        status="feasible",
        cost_per_hour=4.0,
        lower_bound_per_hour=3.5,
        gpus=_gpus(),
        unplaced=[
            Unplaced(workload="huge", replicas=2, reason="needs 100 GiB, more than any instance")
        ],
        summary=Summary(
            cost_per_hour=4.0,
            cost_per_month=2920.0,
            lower_bound_per_hour=3.5,
            gap=0.5 / 3.5,
            gpus_used=2,
            gpus_available=4,
            pools=[
                PoolSummary(
                    pool="a100", gpu_model=A100, gpus_available=3, gpus_used=2, cost_per_hour=4.0
                ),
                PoolSummary(
                    pool="h100", gpu_model=H100, gpus_available=1, gpus_used=0, cost_per_hour=0.0
                ),
            ],
            replicas_total=7,
            replicas_placed=5,
            replicas_unplaced=2,
            compute_utilization=9 / 14,
            memory_utilization=48 / 80,
            stranded_units=5,
            spare_instances=3,
        ),
        solver=SolverStats(
            wall_seconds=1.234,
            time_limit_seconds=30,
            workers=2,
            seed=7,
            placement_status="optimal",
            cost_status="feasible",
            layouts=12,
            variables=34,
            constraints=56,
            notes=["stopped at the time limit"],
        ),
    )
    assert_valid(made, problem, catalog)
    return made


def test_plan_summary_reads_line_by_line(plan: Plan, problem: Problem, catalog: Catalog) -> None:
    assert format_plan_summary(plan, problem, catalog).splitlines() == [
        "status:        feasible",
        "cost:          $4.00/h  ($2,920.00/month at 730 h)",
        "lower bound:   $3.50/h  (gap 14.29%)",
        "replicas:      5 of 7 placed",
        "utilization:   compute 64.3%, memory 60.0% (of the GPUs used)",
        "spare:         3 spare instances, 5 axis units hosting no replica",
        "",
        "GPUs used per pool:",
        "  pool   model      used  $/h",
        "  a100   A100-40GB  2/3   $4.00",
        "  h100   H100-80GB  0/1   $0.00",
        "  total             2/4   $4.00",
        "",
        "layouts:",
        "  a100 (A100-40GB):",
        "    2 x 3g.20gb | 2g.10gb | 1g.5gb | 1g.5gb",
        "",
        "unplaced workloads (1, 2 replicas):",
        "  huge: 2 replicas: needs 100 GiB, more than any instance",
        "",
        "solver:        1.2 s of 30 s limit, 2 workers, seed 7",
        "               placement optimal, cost feasible; 12 layouts, 34 variables, 56 constraints",
        "note:          stopped at the time limit",
    ]


def test_plan_summary_without_summary_or_solver_keeps_status_and_layouts(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    bare = plan.model_copy(update={"summary": None, "solver": None, "unplaced": []})
    text = format_plan_summary(bare, problem, catalog)
    assert text.splitlines()[:3] == [
        "status:        feasible",
        "cost:          $4.00/h  ($2,920.00/month at 730 h)",
        "lower bound:   $3.50/h  (gap n/a)",
    ]
    assert "GPUs used per pool:" not in text
    assert "unplaced" not in text and "solver:" not in text
    assert "    2 x 3g.20gb | 2g.10gb | 1g.5gb | 1g.5gb" in text


def test_layouts_are_printed_in_the_order_the_page_and_exports_use(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    """One largest-first order: CLI layout line, `Layout.label`, mig-parted, Kubernetes."""
    model = catalog.model(A100)
    gpu = plan.gpus[1]
    layout = Layout(tuple(Placement(i.start, i.profile) for i in gpu.instances))
    label = layout.label(model)
    assert label == rules.layout_label(model, [i.profile for i in gpu.instances])
    assert f"2 x {label}" in format_plan_summary(plan, problem, catalog)
    config = yaml.safe_load(plan_to_mig_parted(plan, problem, catalog))
    (node_config,) = config["mig-configs"]["a100-node-0"]
    assert " | ".join(rules.expand_multiset(node_config["mig-devices"])) == label
    resources = kubernetes_resources(plan, problem, catalog)["a100-node-0"]
    assert list(resources) == [
        "nvidia.com/mig-3g.20gb",
        "nvidia.com/mig-2g.10gb",
        "nvidia.com/mig-1g.5gb",
    ]


def test_format_table_pads_all_but_the_last_column() -> None:
    assert format_table(["a", "long header"], [["xyz", "1"], ["q", "a long last cell"]], 2) == [
        "  a    long header",
        "  xyz  1",
        "  q    a long last cell",
    ]


def test_format_progress_before_and_after_the_first_solution() -> None:
    assert format_progress(None, 0.25) == "   0.2s  building the model"
    first = Progress("placement", 1.0, None, None, 3, 7)
    assert format_progress(first, 1.5) == "   1.5s  placement  placed 3/7"
    best = Progress("cost", 2.0, 1234.5, 1000.0, 7, 7)
    assert format_progress(best, 12.0) == (
        "  12.0s  cost       placed 7/7  best $1,234.50/h  bound $1,000.00/h"
    )


def test_format_written_lists_files_or_says_how_to_ask() -> None:
    assert format_written([]) == "files written: none (use --out-dir DIR or --json/--csv/... OUT)"
    written = [("json", Path("out/plan.json")), ("nvidia-smi", Path("out/create.sh"))]
    assert format_written(written).splitlines() == [
        "files written:",
        "  json        out/plan.json",
        "  nvidia-smi  out/create.sh",
    ]


def test_model_table_shows_a_dash_without_nvidia_smi_names_and_ends_with_the_hint(
    catalog: Catalog,
) -> None:
    """(Columns and per-model cells are checked through the CLI in test_cli.py.)"""
    lines = format_model_table(catalog).splitlines()
    assert len(lines) == 1 + len(catalog.models) + 2
    assert next(line for line in lines if line.startswith("H100-96GB ")).endswith("  -")
    assert lines[-2:] == [
        "",
        "`mig-recommender catalog MODEL` shows a model's profiles and legal placements.",
    ]


def test_model_details_list_profiles_and_place_the_all_balanced_layout(catalog: Catalog) -> None:
    text = format_model_details(A100, catalog.model(A100))
    lines = text.splitlines()
    assert lines[0] == "A100-40GB: 40 GB, 7 compute slices, 8 axis units, at most 7 instances"
    assert lines[1].startswith("aliases: NVIDIA A100-SXM4-40GB; ")
    row = next(line for line in lines if line.startswith("3g.20gb "))
    assert row.split()[:7] == ["3g.20gb", "9", "3", row.split()[3], "4", "0,4", "2"]
    balanced = next(line for line in lines if line.startswith("all-balanced: "))
    assert balanced.startswith("all-balanced: 2 x 1g.5gb, 1 x 2g.10gb, 1 x 3g.20gb; placed as ")
    assert balanced.endswith(" (profile@start)")
    assert "sources:" in lines


def test_model_details_without_all_balanced_say_so(catalog: Catalog) -> None:
    model = catalog.model(A100).model_copy(update={"all_balanced": {}})
    assert "all-balanced: not defined for this model" in format_model_details(A100, model)


@pytest.mark.parametrize(
    ("gap", "text"),
    [
        (None, "n/a"),
        (0.0, "0.00%"),
        (1e-12, "0.00%"),  # float noise of a proven optimum
        (0.00004, "<0.01%"),  # a real gap, too small for two decimals: never shown as zero
        (0.00015, "0.01%"),
        (0.0125, "1.25%"),
        (0.5 / 3.5, "14.29%"),
    ],
)
def test_one_gap_format_for_the_cli_and_the_page(gap: float | None, text: str) -> None:
    assert format_gap(gap) == text

"""What-if knobs, editable tables, catalog uploads, layout grouping and chart data."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest

from recommender import charts
from recommender.baselines import BASELINES
from recommender.catalog import BUILTIN_CATALOG_PATH, Catalog
from recommender.errors import InputError
from recommender.plan import Plan, PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_problem
from recommender.solve import Progress, SolveOptions, solve
from recommender.summary import plan_cost, summarize
from recommender.whatif import (
    MIXED,
    SPARE,
    Knobs,
    PoolOverride,
    apply_knobs,
    baseline_comparison,
    catalog_from_upload,
    compare_to_baseline,
    filter_gpus,
    fleet_table,
    layout_rows,
    overrides_from_table,
    overrides_table,
    placed_replicas,
    scaled_replicas,
    table_to_csv,
    workloads_table,
)
from tests.conftest import assert_valid

QUICK = SolveOptions(time_limit_seconds=3, workers=1)


def small_problem() -> Problem:
    return Problem(
        workloads=(
            Workload(name="llm", memory_gb=18, compute_slices=3, replicas=2),
            Workload(name="embed", memory_gb=4, replicas=3),
            Workload(name="big", memory_gb=70, compute_slices=7, gpu_models=("H100-80GB",)),
        ),
        pools=(
            Pool(pool="a100", gpu_model="A100-40GB", gpus=3, cost_per_hour=4.0),
            Pool(pool="h100", gpu_model="H100-80GB", gpus=1, cost_per_hour=12.0),
        ),
    )


def inst(profile: str, start: int, workload: str | None, replica: int | None) -> PlanInstance:
    return PlanInstance(profile=profile, start=start, workload=workload, replica=replica)


def hand_plan(problem: Problem, catalog: Catalog) -> Plan:
    """Two A100s with the same instances (one slot spare on the first), one H100."""
    gpus = [
        PlanGpu(
            pool="a100",
            index=0,
            gpu_model="A100-40GB",
            instances=[
                inst("1g.5gb", 0, "embed", 0),
                inst("1g.5gb", 1, None, None),
                inst("3g.20gb", 4, "llm", 0),
            ],
        ),
        PlanGpu(
            pool="a100",
            index=2,
            gpu_model="A100-40GB",
            instances=[
                inst("1g.5gb", 0, "embed", 1),
                inst("1g.5gb", 1, "embed", 2),
                inst("3g.20gb", 4, "llm", 1),
            ],
        ),
        PlanGpu(
            pool="h100", index=0, gpu_model="H100-80GB", instances=[inst("7g.80gb", 0, "big", 0)]
        ),
    ]
    cost = plan_cost(gpus, problem)
    plan = Plan(
        status="feasible",
        cost_per_hour=cost,
        lower_bound_per_hour=0.0,
        gpus=gpus,
        unplaced=[],
        summary=summarize(gpus, [], problem, catalog, 0.0),
    )
    assert_valid(plan, problem, catalog)
    return plan


# --- knobs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "multiplier", "expected"),
    [(3, 2.0, 6), (1, 0.5, 1), (10, 0.3, 3), (3, 1.1, 4), (4, 0.25, 1), (7, 1.0, 7)],
)
def test_scaled_replicas_rounds_up_and_keeps_one(replicas: int, multiplier: float, expected: int):
    assert scaled_replicas(replicas, multiplier) == expected


def test_apply_knobs_scales_demand_and_overrides_pools() -> None:
    problem = small_problem()
    knobs = Knobs(
        demand_multiplier=2.0,
        pool_overrides={
            "a100": PoolOverride(gpus=7),
            "h100": PoolOverride(cost_per_hour=9.5),
            "gone": PoolOverride(gpus=1),
        },
    )
    changed = apply_knobs(problem, knobs)
    assert [w.replicas for w in changed.workloads] == [4, 6, 2]
    assert [(p.gpus, p.cost_per_hour) for p in changed.pools] == [(7, 4.0), (1, 9.5)]
    # The inputs themselves are untouched.
    assert [w.replicas for w in problem.workloads] == [2, 3, 1]
    assert problem.pools[0].gpus == 3


def test_models_switched_off_get_no_gpus_and_win_over_overrides() -> None:
    knobs = Knobs(
        models_off=("H100-80GB", "B200-180GB"), pool_overrides={"h100": PoolOverride(gpus=5)}
    )
    changed = apply_knobs(small_problem(), knobs)
    assert [(p.pool, p.gpus) for p in changed.pools] == [("a100", 3), ("h100", 0)]


def test_switching_a_model_off_moves_the_plan(catalog: Catalog) -> None:
    problem = apply_knobs(small_problem(), Knobs(models_off=("H100-80GB",)))
    plan = solve(problem, catalog, QUICK)
    assert_valid(plan, problem, catalog)
    assert all(g.gpu_model == "A100-40GB" for g in plan.gpus)
    assert [(u.workload, u.replicas) for u in plan.unplaced] == [("big", 1)]


def test_demand_multiplier_raises_the_cost(catalog: Catalog) -> None:
    base = small_problem()
    doubled = apply_knobs(base, Knobs(demand_multiplier=2.0))
    plans = [solve(p, catalog, QUICK) for p in (base, doubled)]
    for problem, plan in zip((base, doubled), plans, strict=True):
        assert_valid(plan, problem, catalog)
    assert plans[1].cost_per_hour > plans[0].cost_per_hour


def test_demand_over_the_replica_cap_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        apply_knobs(small_problem(), Knobs(demand_multiplier=50), max_replicas=100)
    text = caught.value.report()
    assert "demand multiplier" in text
    assert "300 replicas" in text
    assert "at most 100" in text


def test_knobs_reject_nonsense_values() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        Knobs(demand_multiplier=0)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        PoolOverride(gpus=-1)


def test_override_table_round_trip_keeps_only_changes() -> None:
    problem = small_problem()
    table = overrides_table(problem, {"h100": PoolOverride(cost_per_hour=10.0)})
    assert table["cost_per_hour"].tolist() == [4.0, 10.0]
    assert overrides_from_table(problem, table) == {"h100": PoolOverride(cost_per_hour=10.0)}
    table.loc[0, "gpus"] = 9
    table.loc[1, "cost_per_hour"] = 12.0  # back to the pool's own price
    assert overrides_from_table(problem, table) == {"a100": PoolOverride(gpus=9)}


def test_override_table_ignores_cleared_and_invalid_cells() -> None:
    problem = small_problem()
    table = pd.DataFrame(
        {
            "pool": ["a100", "h100", "ghost"],
            "gpu_model": ["A100-40GB", "H100-80GB", "A30-24GB"],
            "gpus": [None, -3, 4],
            "cost_per_hour": [float("nan"), "x", 1.0],
        }
    )
    assert overrides_from_table(problem, table) == {}
    table.loc[0, "gpus"] = 2.5  # not a whole number of GPUs
    assert overrides_from_table(problem, table) == {}


# --- editable tables ---------------------------------------------------------------------------


def test_tables_round_trip_through_the_csv_readers(catalog: Catalog) -> None:
    problem = load_problem(
        b"name,memory_gb,compute_slices,replicas,gpu_models,priority,media,spread\n"
        b"llm,18.5,3,2,A100-80GB|H100-80GB,2,false,true\n"
        b"video,4,1,1,,1,true,false\n",
        b"pool,gpu_model,gpus,cost_per_hour,gpus_per_node\n"
        b"west,A100-80GB,10,5.12,4\neast,NVIDIA H100 80GB HBM3,2,12.29,8\n",
        catalog,
    )
    workloads_csv = table_to_csv(workloads_table(problem.workloads))
    fleet_csv = table_to_csv(fleet_table(problem.pools))
    again = load_problem(workloads_csv.encode(), fleet_csv.encode(), catalog)
    assert again.model_dump() == problem.model_dump()
    assert workloads_csv.splitlines()[1] == "llm,18.5,3,2,A100-80GB|H100-80GB,2,false,true,1,,,"


def test_an_emptied_cell_is_reported_with_its_line(catalog: Catalog) -> None:
    table = workloads_table(small_problem().workloads)
    table.loc[1, "memory_gb"] = None
    table.loc[2, "name"] = None
    fleet_csv = table_to_csv(fleet_table(small_problem().pools))
    with pytest.raises(InputError) as caught:
        load_problem(table_to_csv(table).encode(), fleet_csv.encode(), catalog, "workloads table")
    assert [str(i) for i in caught.value.issues] == [
        "workloads table:3: memory_gb: is empty (required)",
        "workloads table:4: name: is empty (required)",
    ]


def test_downloaded_tables_guard_spreadsheet_formulas() -> None:
    table = pd.DataFrame(
        {"name": ["=HYPERLINK(1)", "+x", "-y", "@z", "plain"], "memory_gb": [-1.5, 2, 3, 4, 5]}
    )
    guarded = table_to_csv(table, guard_formulas=True).splitlines()
    assert guarded[1:] == ["'=HYPERLINK(1),-1.5", "'+x,2.0", "'-y,3.0", "'@z,4.0", "plain,5.0"]
    assert table_to_csv(table).splitlines()[1] == "=HYPERLINK(1),-1.5"


# --- catalog uploads ---------------------------------------------------------------------------


def test_uploaded_catalog_adds_a_model(catalog: Catalog) -> None:
    builtin = json.loads(BUILTIN_CATALOG_PATH.read_text())
    extra = {"schema_version": 1, "models": {"A100-40GB-lab": builtin["models"]["A100-40GB"]}}
    extra["models"]["A100-40GB-lab"]["aliases"] = ["Lab A100"]
    uploaded = catalog_from_upload(json.dumps(extra).encode(), "lab.json")
    assert uploaded.resolve("lab a100") == "A100-40GB-lab"
    assert set(catalog.models) < set(uploaded.models)


def test_bad_catalog_uploads_name_the_uploaded_file() -> None:
    with pytest.raises(InputError) as caught:
        catalog_from_upload(b"{not json", "mine.json")
    assert str(caught.value.issues[0]).startswith("mine.json:1: not valid JSON")
    with pytest.raises(InputError) as caught:
        catalog_from_upload(b'{"models": {"X": {"sources": []}}}', "mine.json")
    assert all(i.file == "mine.json" for i in caught.value.issues)


def test_catalog_yaml_is_loaded_safely() -> None:
    hostile = b"models: !!python/object/apply:os.system ['echo owned > /tmp/owned']\n"
    with pytest.raises(InputError) as caught:
        catalog_from_upload(hostile, "evil.yaml")
    assert "not valid YAML" in caught.value.report()


# --- layout view -------------------------------------------------------------------------------


def test_each_gpu_is_a_row_with_its_blocks(catalog: Catalog) -> None:
    problem = small_problem()
    rows = layout_rows(hand_plan(problem, catalog).gpus, catalog, group=False)
    assert [r.label for r in rows] == ["a100 #0", "a100 #2", "h100 #0"]
    first = rows[0]
    assert first.units == 8
    assert first.layout == "3g.20gb | 1g.5gb | 1g.5gb"
    assert [(b.start, b.span, b.profile, b.category) for b in first.blocks] == [
        (0, 1, "1g.5gb", "embed"),
        (1, 1, "1g.5gb", SPARE),
        (4, 4, "3g.20gb", "llm"),
    ]


def test_identical_layouts_are_grouped_with_a_count(catalog: Catalog) -> None:
    problem = small_problem()
    rows = layout_rows(hand_plan(problem, catalog).gpus, catalog, group=True)
    assert [r.label for r in rows] == ["a100: 2 GPUs from #0", "h100 #0"]
    assert rows[0].layout == "3g.20gb | 1g.5gb | 1g.5gb"
    group = rows[0]
    assert group.indices == (0, 2)
    slot = {b.start: b for b in group.blocks}
    assert (slot[0].category, slot[0].caption) == ("embed", "embed")
    # Spare on one GPU, hosting on the other: neither colour alone would be true.
    assert (slot[1].category, slot[1].caption, slot[1].spare) == (MIXED, "embed + 1 spare", 1)
    assert slot[4].hosts == ("llm",)


def test_grouping_a_big_fleet_keeps_every_gpu_counted(catalog: Catalog) -> None:
    gpus = [
        PlanGpu(
            pool="p",
            index=i,
            gpu_model="A100-40GB",
            instances=[inst("3g.20gb", 0, f"w{i % 3}", 0), inst("3g.20gb", 4, None, None)]
            if i % 2
            else [inst("7g.40gb", 0, "x", 0)],
        )
        for i in range(500)
    ]
    rows = layout_rows(gpus, catalog, group=True)
    assert [(r.count, r.layout) for r in rows] == [(250, "7g.40gb"), (250, "3g.20gb | 3g.20gb")]
    assert rows[1].blocks[0].hosts == ("w0", "w1", "w2")
    assert rows[1].blocks[0].caption == "3 workloads"
    assert rows[1].blocks[1].category == SPARE


def test_filters_by_pool_model_and_workload(catalog: Catalog) -> None:
    plan = hand_plan(small_problem(), catalog)

    def names(gpus: list[PlanGpu]) -> list[tuple[str, int]]:
        return [(g.pool, g.index) for g in gpus]

    assert names(filter_gpus(plan)) == [("a100", 0), ("a100", 2), ("h100", 0)]
    assert names(filter_gpus(plan, pools=["h100"])) == [("h100", 0)]
    assert names(filter_gpus(plan, models=["A100-40GB"])) == [("a100", 0), ("a100", 2)]
    assert names(filter_gpus(plan, workloads=["big", "nothing"])) == [("h100", 0)]
    assert filter_gpus(plan, pools=["a100"], workloads=["big"]) == []


# --- baselines and charts ----------------------------------------------------------------------


def test_baseline_comparison_states_savings_only_like_for_like(catalog: Catalog) -> None:
    problem = small_problem()
    plan = solve(problem, catalog, QUICK)
    assert_valid(plan, problem, catalog)
    baselines = {name: planner(problem, catalog) for name, planner in BASELINES.items()}
    for base in baselines.values():
        assert_valid(base, problem, catalog)
    table = baseline_comparison(plan, baselines).set_index("planner")
    assert table.loc["Optimized plan", "cost_per_hour"] == pytest.approx(plan.cost_per_hour)
    assert pd.isna(table.loc["Optimized plan", "plan_saves_per_hour"])
    assert table["plan_saves_per_hour"].dtype.kind == "f"  # NaN, never a `None` to print
    placed = placed_replicas(plan)
    assert placed == problem.total_replicas
    seen = set()
    for name, base in baselines.items():
        row = table.loc[name]
        assert row["replicas_unplaced"] == sum(u.replicas for u in base.unplaced)
        assert row["replicas_placed"] + row["replicas_unplaced"] == problem.total_replicas
        saving = base.cost_per_hour - plan.cost_per_hour
        comparison = compare_to_baseline(plan, base)
        assert (comparison.placed, comparison.plan_placed) == (row["replicas_placed"], placed)
        if row["replicas_placed"] == placed:
            seen.add("same")
            assert comparison.like_for_like
            assert row["plan_saves_per_hour"] == pytest.approx(saving)
            assert row["note"] == "places the same replicas"
        elif saving > 0:
            seen.add("fewer, costlier")
            assert not comparison.like_for_like
            assert row["plan_saves_per_hour"] == pytest.approx(saving)
            expected = saving / base.cost_per_hour * 100
            assert row["plan_saves_percent"] == pytest.approx(expected, abs=0.05)
            assert "saves at least this" in row["note"]
        else:
            seen.add("fewer, cheaper")
            # Cheaper because it does less: no saving is stated, the note says why.
            assert comparison.saving_per_hour is None
            assert pd.isna(row["plan_saves_per_hour"]) and pd.isna(row["plan_saves_percent"])
            assert row["note"].endswith("the costs are not like for like")
    # The small problem's baselines show all three cases.
    assert seen == {"same", "fewer, costlier", "fewer, cheaper"}


def test_layout_chart_data_and_axis(catalog: Catalog) -> None:
    rows = layout_rows(hand_plan(small_problem(), catalog).gpus, catalog, group=False)
    frame = charts.layout_frame(rows)
    blocks = frame[frame["category"] != charts.FREE]
    assert len(blocks) == 7
    assert blocks[["start", "end"]].values.tolist()[:3] == [[0, 1], [1, 2], [4, 8]]
    # Units 2-3 of both A100s host no instance: one free run each, the H100 is full.
    free = frame[frame["category"] == charts.FREE]
    assert free[["row", "start", "end"]].values.tolist() == [["a100 #0", 2, 4], ["a100 #2", 2, 4]]
    colors = charts.workload_colors(["llm", "embed", "big"])
    spec = charts.layout_chart(rows, colors).to_dict()
    legend_rows = -(-5 // charts.LEGEND_COLUMNS)  # embed, llm, big, spare, free
    assert spec["height"] == (
        charts.ROW_HEIGHT * 3
        + charts.AXIS_HEIGHT
        + charts.LEGEND_PADDING
        + charts.LEGEND_ROW_HEIGHT * legend_rows
    )
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 8]
    # Every colour in the chart has a legend entry, free units included.
    color = spec["layer"][0]["encoding"]["color"]
    assert color["scale"]["domain"] == ["llm", "embed", "big", SPARE, charts.FREE]
    assert color["scale"]["range"] == [colors[c] for c in color["scale"]["domain"]]
    assert color["legend"]["symbolLimit"] == 0
    assert "spare instance" in color["legend"]["labelExpr"]


def test_layout_chart_refuses_mixed_axis_lengths(catalog: Catalog) -> None:
    rows = layout_rows(hand_plan(small_problem(), catalog).gpus, catalog, group=False)
    rtx = rows[0].__class__(
        pool="r", gpu_model="RTX-PRO-6000-96GB", indices=(0,), units=12, layout="", blocks=()
    )
    with pytest.raises(ValueError, match="one axis length"):
        charts.layout_chart([rows[0], rtx], {})


def test_block_captions_are_clipped_to_their_width(catalog: Catalog) -> None:
    gpu = PlanGpu(
        pool="p",
        index=0,
        gpu_model="A100-40GB",
        instances=[inst("1g.5gb", 0, "a-very-long-workload-name-indeed", 0)],
    )
    frame = charts.layout_frame(layout_rows([gpu], catalog, group=False))
    profile, caption = frame.loc[0, "line1"], frame.loc[0, "line2"]
    assert profile == "1g.5gb"
    assert len(caption) == charts.CAPTION_CHARS_8_UNITS and "…" in caption
    assert caption.startswith("a-ver") and caption.endswith("ndeed")


RERANKERS = ["bge-reranker-base", "bge-reranker-large", "bge-reranker-v2-m3"]


@pytest.mark.parametrize(
    "names",
    [
        RERANKERS,
        [*RERANKERS, "bge-small-en-v1.5", "bge-base-en-v1.5", "bge-large-en-v1.5", "short"],
        [f"jupyter-medium-{n:04d}" for n in range(30)],
        # Same start and end, differing only in the middle: no split tells them apart.
        [f"model-{c}-variant-same-end" for c in "abcdefghij"],
        ["x" * 30, "x" * 31, "x" * 29 + "y"],
    ],
)
@pytest.mark.parametrize("budget", [5, 8, 13, 26])
def test_short_names_never_read_alike(names: list[str], budget: int) -> None:
    short = charts.short_names(names, budget)
    assert set(short) == set(names)
    assert len(set(short.values())) == len(names)
    assert all(len(label) <= max(budget, 5) for label in short.values())
    for name, label in short.items():
        if len(name) <= max(budget, 5):
            assert label == name


def test_three_rerankers_read_differently_in_a_one_unit_block() -> None:
    short = charts.short_names(RERANKERS, charts.CAPTION_CHARS_8_UNITS)
    labels = [short[n] for n in RERANKERS]
    assert len(set(labels)) == 3
    assert all(label.startswith("bge-") and "…" in label for label in labels)
    assert [label[-3:] for label in labels] == ["ase", "rge", "-m3"]


def test_sixty_workloads_get_sixty_colours_none_grey() -> None:
    names = [f"w{n}" for n in range(60)]
    colors = charts.workload_colors(names)
    assert len({colors[n] for n in names}) == 60
    for name in names:
        red, green, blue = (int(colors[name][i : i + 2], 16) for i in (1, 3, 5))
        assert max(red, green, blue) - min(red, green, blue) > 20, colors[name]
    assert colors[charts.FREE] not in {colors[n] for n in names}


def test_block_text_is_dark_on_light_and_light_on_dark() -> None:
    assert charts.ink("#ffffff") == "black"
    assert charts.ink("#e3e3e3") == "black"
    assert charts.ink("#393b79") == "white"
    assert charts.ink("#000000") == "white"


def test_plan_chart_frames_add_up(catalog: Catalog) -> None:
    problem = small_problem()
    plan = solve(apply_knobs(problem, Knobs(models_off=("H100-80GB",))), catalog, QUICK)
    switched = apply_knobs(problem, Knobs(models_off=("H100-80GB",)))
    assert_valid(plan, switched, catalog)
    costs = charts.cost_by_pool_frame(plan, switched)
    assert costs["cost_per_hour"].sum() == pytest.approx(plan.cost_per_hour)
    use = charts.utilization_frame(plan, switched, catalog).set_index(["scope", "measure"])
    assert plan.summary is not None
    assert use.loc[("all pools", "compute"), "utilization"] == pytest.approx(
        plan.summary.compute_utilization, abs=1e-4
    )
    assert use.loc[("all pools", "memory"), "utilization"] == pytest.approx(
        plan.summary.memory_utilization, abs=1e-4
    )
    placed = charts.placement_frame(plan, [w.name for w in switched.workloads])
    per_workload = placed.groupby("workload")["replicas"].sum().to_dict()
    assert per_workload == {w.name: w.replicas for w in switched.workloads}
    assert placed[placed["pool"] == charts.UNPLACED]["workload"].tolist() == ["big"]
    for chart in (
        charts.cost_by_pool_chart(costs),
        charts.utilization_chart(use.reset_index()),
        charts.placement_chart(placed, [p.pool for p in switched.pools]),
    ):
        assert isinstance(chart, alt.Chart)
        chart.to_dict()


def test_utilization_frame_reads_the_plan_summary(catalog: Catalog) -> None:
    problem = small_problem()
    plan = hand_plan(problem, catalog)
    assert plan.summary is not None
    frame = charts.utilization_frame(plan, problem, catalog).set_index(["scope", "measure"])
    for pool in plan.summary.pools:
        assert frame.loc[(pool.pool, "compute"), "utilization"] == round(
            pool.compute_utilization, 4
        )
        assert frame.loc[(pool.pool, "memory"), "utilization"] == round(pool.memory_utilization, 4)
    # What the summary says is what the chart shows; it is not recomputed.
    stated = plan.summary.model_copy(update={"compute_utilization": 0.5})
    shown = charts.utilization_frame(plan.model_copy(update={"summary": stated}), problem, catalog)
    assert shown.set_index(["scope", "measure"]).loc[("all pools", "compute"), "utilization"] == 0.5
    # A plan read without a summary gets one for these inputs.
    bare = charts.utilization_frame(plan.model_copy(update={"summary": None}), problem, catalog)
    assert bare.equals(frame.reset_index())


def test_progress_frame_tracks_cost_and_bound() -> None:
    history = [
        Progress("placement", 0.1, None, None, 5, 6),
        Progress("cost", 0.5, 30.0, 10.0, 6, 6),
        Progress("cost", 0.9, 24.0, 24.0, 6, 6),
    ]
    frame = charts.progress_frame(history)
    assert frame.values.tolist() == [
        [0.5, "best cost", 30.0],
        [0.5, "bound", 10.0],
        [0.9, "best cost", 24.0],
        [0.9, "bound", 24.0],
    ]
    charts.progress_chart(frame).to_dict()


def test_unplaced_is_the_only_red_in_the_placement_chart() -> None:
    frame = pd.DataFrame(
        [
            {"workload": "a", "pool": "p", "replicas": 2},
            {"workload": "a", "pool": "unplaced", "replicas": 1},
        ]
    )
    pools = [f"pool-{n}" for n in range(20)]
    spec = charts.placement_chart(frame, pools).to_dict()
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == [*pools, charts.UNPLACED]
    assert scale["range"][-1] == charts.UNPLACED_COLOR
    assert charts.UNPLACED_COLOR not in scale["range"][:-1]
    assert not {"#e15759", "#ff9da7", "#ff9d9a"} & set(scale["range"])
    colors = charts.workload_colors([f"w{n}" for n in range(40)])
    assert colors[SPARE] not in [colors[f"w{n}"] for n in range(40)]
    assert colors[MIXED] not in [colors[f"w{n}"] for n in range(40)]

"""Expansion from counts to GPUs: the König edge colouring that makes spread exact."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import Catalog
from recommender.expand import edge_colouring, expand
from recommender.formulation import build_formulation
from recommender.model import Solution
from recommender.plan import Plan
from recommender.problem import Pool, Problem, Workload
from recommender.summary import plan_cost
from tests.conftest import assert_valid


@st.composite
def bipartite_multigraphs(draw: st.DrawFn) -> tuple[list[tuple[int, int]], int]:
    colours = draw(st.integers(1, 6))
    left, right = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    degree_left, degree_right = Counter(), Counter()
    edges = []
    for _ in range(draw(st.integers(0, 40))):
        u, v = draw(st.integers(0, left - 1)), draw(st.integers(0, right - 1))
        if degree_left[u] < colours and degree_right[v] < colours:
            edges.append((u, v))
            degree_left[u] += 1
            degree_right[v] += 1
    return edges, colours


@settings(max_examples=300, deadline=None)
@given(bipartite_multigraphs())
def test_edge_colouring_is_proper_with_max_degree_colours(graph) -> None:
    edges, colours = graph
    result = edge_colouring(edges, colours)
    assert len(result) == len(edges)
    assert all(0 <= c < colours for c in result)
    assert len({(u, c) for (u, _), c in zip(edges, result, strict=True)}) == len(edges)
    assert len({(v, c) for (_, v), c in zip(edges, result, strict=True)}) == len(edges)


def test_edge_colouring_needs_a_path_swap() -> None:
    # Greedy first-free colouring fails on this order; the alternating path fixes it.
    edges = [(0, 0), (1, 1), (1, 0), (0, 1)]
    result = edge_colouring(edges, 2)
    assert len({(u, c) for (u, _), c in zip(edges, result, strict=True)}) == 4
    assert len({(v, c) for (_, v), c in zip(edges, result, strict=True)}) == 4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=4),  # spread replicas per workload
    st.integers(0, 6),  # pooled small replicas
    st.integers(4, 6),  # GPUs carved with the layout
)
def test_any_solution_the_model_allows_expands_to_a_valid_plan(
    catalog: Catalog, spread: list[int], pooled: int, gpus: int
) -> None:
    """Hand-built counts at the limits of the spread constraints always expand."""
    workloads = [
        Workload(name=f"s{i}", memory_gb=4, replicas=r, spread=True) for i, r in enumerate(spread)
    ]
    if pooled:
        workloads.append(Workload(name="p", memory_gb=4, replicas=pooled))
    problem = Problem(
        workloads=tuple(workloads),
        pools=(Pool(pool="a", gpu_model="A100-40GB", gpus=gpus, cost_per_hour=1.0),),
    )
    f = build_formulation(problem, catalog)
    pool = f.pools[0]
    # The layout with the most plain 1g.5gb instances; every replica fits those.
    layout = max(pool.layouts, key=lambda lay: lay.counts.get("1g.5gb", 0))
    per_gpu = layout.counts["1g.5gb"]
    spread_placed = {}
    slots_left = per_gpu * gpus
    for c in f.classes:
        if c.spread:
            take = min(c.demand, gpus, slots_left)
            spread_placed[c.index, 0, layout, "1g.5gb"] = take
            slots_left -= take
    placed = {}
    for c in f.classes:
        if not c.spread:
            placed[c.index, 0, "1g.5gb"] = min(c.demand, slots_left)
    solution = Solution(
        gpus_with={(0, layout): gpus},
        placed=placed,
        spread_placed=spread_placed,
        unplaced={},
    )
    plan_gpus, placed_count = expand(f, solution)
    unplaced = [
        {"workload": w.name, "replicas": w.replicas - placed_count.get(w.name, 0), "reason": "test"}
        for w in problem.workloads
        if placed_count.get(w.name, 0) < w.replicas
    ]
    plan = Plan(
        status="feasible",
        cost_per_hour=plan_cost(plan_gpus, problem),
        lower_bound_per_hour=0,
        gpus=plan_gpus,
        unplaced=unplaced,
    )
    assert_valid(plan, problem, catalog)
    assert sum(placed_count.values()) == sum(spread_placed.values()) + sum(placed.values())


def test_greedy_plan_round_trips_through_counts(catalog: Catalog) -> None:
    """solution_from_gpus (the warm start) maps a baseline plan to counts the model accepts."""
    from recommender.baselines import best_fit_decreasing_plan
    from recommender.expand import solution_from_gpus
    from recommender.model import LayoutCountModel, run_stage

    problem = Problem(
        workloads=(
            Workload(name="big", memory_gb=30, compute_slices=3, replicas=3),
            Workload(name="ha", memory_gb=4, replicas=3, spread=True),
            Workload(name="video", memory_gb=4, media=True, replicas=2),
            Workload(name="small", memory_gb=8, compute_slices=2, replicas=5),
        ),
        pools=(
            Pool(pool="a", gpu_model="A100-80GB", gpus=4, cost_per_hour=4.0),
            Pool(pool="r", gpu_model="RTX-PRO-6000-96GB", gpus=2, cost_per_hour=2.0),
        ),
    )
    greedy = best_fit_decreasing_plan(problem, catalog)
    assert_valid(greedy, problem, catalog)
    f = build_formulation(problem, catalog)
    counts = solution_from_gpus(f, greedy.gpus)
    assert sum(counts.gpus_with.values()) == len([g for g in greedy.gpus if g.instances])
    hosted = sum(counts.placed.values()) + sum(counts.spread_placed.values())
    assert hosted == greedy.summary.replicas_placed

    # The counts satisfy every constraint group: fixing the model to them stays feasible.
    lcm = LayoutCountModel(f)
    lcm.add_all_constraints()
    for group, values in (
        (lcm.gpus_with, counts.gpus_with),
        (lcm.placed, counts.placed),
        (lcm.spread_placed, counts.spread_placed),
        (lcm.unplaced, counts.unplaced),
    ):
        for key, var in group.items():
            lcm.model.add(var == values.get(key, 0))
    assert run_stage(lcm, 5, 1, 0).status == "optimal"

    plan_gpus, placed = expand(f, counts)
    plan = Plan(
        status="feasible",
        cost_per_hour=plan_cost(plan_gpus, problem),
        lower_bound_per_hour=0,
        gpus=plan_gpus,
        unplaced=[
            {"workload": u.workload, "replicas": u.replicas, "reason": u.reason}
            for u in greedy.unplaced
        ],
    )
    assert_valid(plan, problem, catalog)
    assert plan.cost_per_hour <= greedy.cost_per_hour + 1e-9
    assert sum(placed.values()) == hosted

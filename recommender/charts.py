"""Altair charts of a plan for the what-if page, and the tables they draw (pure functions).

Every chart takes plain data (rows, data frames), so the page stays a thin layer and the numbers
behind each chart are testable without a browser.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import altair as alt
import pandas as pd

from recommender.assemble import with_summary
from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.solve import Progress
from recommender.whatif import MIXED, SPARE, LayoutRow

# Tableau 20 without its greys (grey means spare or mixed): distinct enough for neighbouring
# blocks; beyond 18 workloads colours repeat and the block labels tell them apart.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d", "#f1ce63", "#d4a6c8",
    "#fabfd2", "#d7b5a6",
)  # fmt: skip
# Pools: no reds, which mean "unplaced" in the same charts.
POOL_PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#a0cbe8",
    "#ffbe7d", "#8cd17d", "#86bcb6", "#f1ce63", "#d4a6c8",
)  # fmt: skip
SPARE_COLOR = "#e3e3e3"
MIXED_COLOR = "#9e9e9e"
UNPLACED = "unplaced"
UNPLACED_COLOR = "#d62728"
ROW_HEIGHT = 38
# The page fits a whole chart, axes included, into its height: this much goes to the x axis.
AXIS_HEIGHT = 60
# Characters of block caption per axis unit on an 8-unit axis; scaled for other axis lengths.
CAPTION_CHARS_8_UNITS = 13


def workload_colors(workloads: Sequence[str]) -> dict[str, str]:
    """A colour per workload (stable for one problem), plus the spare and mixed greys."""
    colors = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(workloads)}
    colors[SPARE] = SPARE_COLOR
    colors[MIXED] = MIXED_COLOR
    return colors


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def layout_frame(rows: Sequence[LayoutRow]) -> pd.DataFrame:
    """One record per block: where it sits on its row's axis and what it shows."""
    records = []
    for order, row in enumerate(rows):
        chars = max(3, CAPTION_CHARS_8_UNITS * 8 // row.units)
        for block in row.blocks:
            budget = chars * block.span
            records.append(
                {
                    "row": row.label,
                    "order": order,
                    "gpus": row.count,
                    "start": block.start,
                    "end": block.start + block.span,
                    "profile": block.profile,
                    "category": block.category,
                    "caption": block.caption,
                    "text": _clip(block.profile, budget) + "\n" + _clip(block.caption, budget),
                    "hosts": ", ".join(block.hosts) or "-",
                    "spare_on": block.spare,
                }
            )
    return pd.DataFrame(records)


def layout_chart(rows: Sequence[LayoutRow], colors: dict[str, str]) -> alt.LayerChart:
    """GPUs (or groups of identical GPUs) of one unit-axis length, instances as labelled blocks.

    The axis runs over every unit of the GPU; units no instance covers show as blank frame.
    """
    units = rows[0].units
    if any(r.units != units for r in rows):
        raise ValueError("one layout chart draws GPUs of one axis length")
    blocks = layout_frame(rows)
    frames = pd.DataFrame(
        [{"row": r.label, "order": n, "start": 0, "end": r.units} for n, r in enumerate(rows)]
    )
    sort = alt.EncodingSortField(field="order", order="ascending")
    y = alt.Y("row:N", sort=sort, title=None, axis=alt.Axis(labelLimit=420))
    x_scale = alt.Scale(domain=[0, units], nice=False)
    x_axis = alt.Axis(values=list(range(units + 1)), title=f"unit ({units} per GPU)", grid=False)
    categories = list(dict.fromkeys(blocks["category"]))
    color = alt.Color(
        "category:N",
        scale=alt.Scale(domain=categories, range=[colors.get(c, MIXED_COLOR) for c in categories]),
        legend=None,
    )
    frame_layer = (
        alt.Chart(frames)
        .mark_bar(fill="white", stroke="#9e9e9e", strokeWidth=1)
        .encode(x=alt.X("start:Q", scale=x_scale, axis=x_axis), x2="end:Q", y=y)
    )
    block_layer = (
        alt.Chart(blocks)
        .mark_bar(stroke="white", strokeWidth=2)
        .encode(
            x=alt.X("start:Q", scale=x_scale, axis=x_axis),
            x2="end:Q",
            y=y,
            color=color,
            tooltip=[
                alt.Tooltip("row:N", title="GPU"),
                alt.Tooltip("profile:N"),
                alt.Tooltip("start:Q", title="start unit"),
                alt.Tooltip("hosts:N", title="workloads"),
                alt.Tooltip("spare_on:Q", title="spare on GPUs"),
            ],
        )
    )
    text_layer = (
        alt.Chart(blocks)
        .transform_calculate(middle="(datum.start + datum.end) / 2")
        .mark_text(fontSize=10, lineBreak="\n", color="black")
        .encode(x=alt.X("middle:Q", scale=x_scale, axis=x_axis), y=y, text="text:N")
    )
    return alt.layer(frame_layer, block_layer, text_layer).properties(
        height=ROW_HEIGHT * len(rows) + AXIS_HEIGHT
    )


# --- plan charts -------------------------------------------------------------------------------


def cost_by_pool_frame(plan: Plan, problem: Problem) -> pd.DataFrame:
    """Per pool: GPUs used and available, and the cost per hour of the used ones."""
    used = Counter(g.pool for g in plan.gpus if g.instances)
    return pd.DataFrame(
        [
            {
                "pool": p.pool,
                "gpu_model": p.gpu_model,
                "gpus_used": used.get(p.pool, 0),
                "gpus_available": p.gpus,
                "cost_per_hour": round(used.get(p.pool, 0) * p.cost_per_hour, 6),
            }
            for p in problem.pools
        ]
    )


def pool_colors(pools: Sequence[str]) -> alt.Scale:
    """The same colour for a pool in every chart."""
    return alt.Scale(
        domain=list(pools), range=[POOL_PALETTE[n % len(POOL_PALETTE)] for n in range(len(pools))]
    )


def cost_by_pool_chart(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("cost_per_hour:Q", title="$ per hour"),
            y=alt.Y("pool:N", sort=None, title=None),
            color=alt.Color("pool:N", scale=pool_colors(frame["pool"].tolist()), legend=None),
            tooltip=["pool", "gpu_model", "gpus_used", "gpus_available", "cost_per_hour"],
        )
        .properties(height=44 * len(frame) + AXIS_HEIGHT)
    )


def utilization_frame(plan: Plan, problem: Problem, catalog: Catalog) -> pd.DataFrame:
    """Per pool with used GPUs, and for all of them: compute and memory utilization as the
    plan's summary states them (computed for `problem` and `catalog` if the plan has none)."""
    summary = plan.summary
    if summary is None:
        summary = with_summary(plan, problem, catalog).summary
        assert summary is not None
    scopes = [
        (p.pool, p.compute_utilization, p.memory_utilization)
        for p in summary.pools
        if p.gpus_used > 0
    ]
    scopes.append(("all pools", summary.compute_utilization, summary.memory_utilization))
    records = [
        {"scope": scope, "measure": measure, "utilization": round(share, 4)}
        for scope, compute, memory in scopes
        for measure, share in (("compute", compute), ("memory", memory))
    ]
    return pd.DataFrame(records, columns=["scope", "measure", "utilization"])


def utilization_chart(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "utilization:Q",
                title="share of used GPUs",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("scope:N", sort=None, title=None),
            yOffset="measure:N",
            color=alt.Color("measure:N", title=None),
            tooltip=["scope", "measure", alt.Tooltip("utilization:Q", format=".1%")],
        )
        .properties(height=44 * frame["scope"].nunique() + AXIS_HEIGHT)
    )


def placement_frame(plan: Plan, workloads: Iterable[str]) -> pd.DataFrame:
    """Per workload and pool: replicas placed there; unplaced replicas as pool `unplaced`."""
    placed: Counter[tuple[str, str]] = Counter()
    for gpu in plan.gpus:
        for inst in gpu.instances:
            if inst.workload is not None:
                placed[(inst.workload, gpu.pool)] += 1
    for item in plan.unplaced:
        placed[(item.workload, UNPLACED)] += item.replicas
    order = {name: n for n, name in enumerate(workloads)}
    records = [
        {"workload": w, "pool": pool, "replicas": count}
        for (w, pool), count in sorted(
            placed.items(), key=lambda kv: (order.get(kv[0][0], 0), kv[0])
        )
    ]
    return pd.DataFrame(records, columns=["workload", "pool", "replicas"])


def placement_chart(frame: pd.DataFrame, pools: Sequence[str]) -> alt.Chart:
    """Stacked bars: where the replicas of each workload run, unplaced ones in red."""
    scale = pool_colors(pools)
    scale.domain = [*pools, UNPLACED]
    scale.range = [*scale.range, UNPLACED_COLOR]
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("sum(replicas):Q", title="replicas", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(
                "workload:N",
                sort=None,
                title=None,
                axis=alt.Axis(labelLimit=260, labelOverlap=False),
            ),
            color=alt.Color("pool:N", scale=scale, title="pool"),
            tooltip=["workload", "pool", "replicas"],
        )
        .properties(height=22 * frame["workload"].nunique() + AXIS_HEIGHT)
    )


def progress_frame(history: Sequence[Progress]) -> pd.DataFrame:
    """Best cost and proven bound over time, from the solver's progress reports."""
    records = []
    for item in history:
        if item.cost_per_hour is not None:
            records.append(
                {
                    "seconds": item.elapsed_seconds,
                    "series": "best cost",
                    "per_hour": item.cost_per_hour,
                }
            )
        if item.lower_bound_per_hour is not None:
            records.append(
                {
                    "seconds": item.elapsed_seconds,
                    "series": "bound",
                    "per_hour": item.lower_bound_per_hour,
                }
            )
    return pd.DataFrame(records, columns=["seconds", "series", "per_hour"])


def progress_chart(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X("seconds:Q", title="seconds"),
            y=alt.Y("per_hour:Q", title="$ per hour", scale=alt.Scale(zero=False)),
            color=alt.Color("series:N", title=None),
        )
        .properties(height=120 + AXIS_HEIGHT)
    )

"""Altair charts of a plan for the what-if page, and the tables they draw (pure functions).

Every chart takes plain data (rows, data frames), so the page stays a thin layer and the numbers
behind each chart are testable without a browser.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

import altair as alt
import pandas as pd

from recommender.assemble import with_summary
from recommender.catalog import Catalog
from recommender.frontier import BUDGET, CHANGE_NOTHING, FRESH_OPTIMUM, Frontier, FrontierPoint
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.report import format_gap
from recommender.solve import Progress
from recommender.whatif import MIXED, SPARE, Block, LayoutRow

# Sixty colours, none repeated and no greys (grey means spare or mixed), so up to sixty
# workloads each get their own colour: Tableau 10 and the clearly different half of Tableau 20's
# light shades, then d3's category20b and category20c without greys (d3's cyan instead of a
# near-grey lavender), then ColorBrewer Dark2. The first 18 are far apart; the block labels and
# the legend name every workload in any case.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#a0cbe8", "#ffbe7d", "#8cd17d", "#d4a6c8", "#d7b5a6", "#b6992d", "#499894",
    "#d37295", "#fabfd2",
    "#393b79", "#5254a3", "#6b6ecf", "#9c9ede", "#637939", "#8ca252", "#b5cf6b", "#cedb9c",
    "#8c6d31", "#bd9e39", "#e7ba52", "#e7cb94", "#843c39", "#ad494a", "#d6616b", "#e7969c",
    "#7b4173", "#a55194", "#ce6dbd", "#de9ed6",
    "#3182bd", "#6baed6", "#9ecae1", "#c6dbef", "#e6550d", "#fd8d3c", "#fdae6b", "#fdd0a2",
    "#31a354", "#74c476", "#a1d99b", "#c7e9c0", "#756bb1", "#9e9ac8", "#bcbddc", "#17becf",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
)  # fmt: skip
# Pools: no reds, which mean "unplaced" in the same charts.
POOL_PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#a0cbe8",
    "#ffbe7d", "#8cd17d", "#86bcb6", "#f1ce63", "#d4a6c8",
)  # fmt: skip
SPARE_COLOR = "#e3e3e3"
MIXED_COLOR = "#9e9e9e"
# Units of a GPU no instance covers: blank, outlined, and named in the legend.
FREE = "free units (no instance)"
FREE_COLOR = "#ffffff"
FRAME_COLOR = "#9e9e9e"
# How the legend names the two greys.
CATEGORY_LEGEND_NAMES = {
    SPARE: "spare instance (no workload)",
    MIXED: "mixed (grouped GPUs differ)",
}
# A re-plan's GPU states: a strip left of unit 0 of each row, named in the legend. Dark, so
# the state's name reads in white, and apart from the workload blocks by where it sits.
STATE_CATEGORIES = {
    "kept": "kept GPU",
    "re-carved": "re-carved GPU",
    "new": "new GPU",
    "released": "released GPU",
}
STATE_COLORS = {
    "kept GPU": "#2e7d32",
    "re-carved GPU": "#e65100",
    "new GPU": "#1565c0",
    "released GPU": "#b71c1c",
}
# The strip spans [-STATE_STRIP_UNITS, -STATE_STRIP_GAP] on the unit axis.
STATE_STRIP_UNITS = 1.0
STATE_STRIP_GAP = 0.12
UNPLACED = "unplaced"
UNPLACED_COLOR = "#d62728"
ROW_HEIGHT = 40
# The page fits a whole chart, axes included, into its height: this much goes to the x axis.
AXIS_HEIGHT = 60
# Characters of block caption per axis unit on an 8-unit axis; scaled for other axis lengths.
CAPTION_CHARS_8_UNITS = 11
# The two text lines of a block sit this many pixels above and below the block's middle.
LINE_OFFSET = 7
# Narrow enough that the legend fits under the plot at 1280 px (it starts where the plot does).
LEGEND_COLUMNS = 3
LEGEND_LABEL_PIXELS = 165
ROW_LABEL_PIXELS = 220
# The page fits the whole chart into its height, legend included: this much per legend row.
LEGEND_ROW_HEIGHT = 20
LEGEND_PADDING = 24
ELLIPSIS = "…"


def workload_colors(workloads: Sequence[str]) -> dict[str, str]:
    """A colour per workload (stable for one problem; distinct for the first len(PALETTE)),
    plus the spare, mixed and free colours."""
    colors = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(workloads)}
    colors[SPARE] = SPARE_COLOR
    colors[MIXED] = MIXED_COLOR
    colors[FREE] = FREE_COLOR
    return colors


def ink(color: str) -> str:
    """Black or white text, whichever reads better on `color` (#rrggbb): by relative
    luminance, WCAG's formula."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(color[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    # Contrast with black (L + 0.05) / 0.05 against white 1.05 / (L + 0.05): equal at ~0.179.
    return "black" if luminance > 0.179 else "white"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + ELLIPSIS


def _middle_clip(name: str, budget: int, tail: int) -> str:
    head = budget - 1 - tail
    return name[:head] + ELLIPSIS + name[len(name) - tail :]


def short_names(names: Sequence[str], budget: int) -> dict[str, str]:
    """Each name in at most `budget` characters, no two alike: names that fit stay whole; longer
    ones keep their start and end around an ellipsis (`bge-re…-large`, `bge-re…-v2-m3`), with
    the split moved until the group that would read alike differs; failing that, a name ends
    with its number in `names` (`…#12`). Tooltips and the legend give the full name."""
    budget = max(budget, 5)
    labels: dict[str, str] = {}
    clipped: list[str] = []
    for name in dict.fromkeys(names):
        if len(name) <= budget:
            labels[name] = name
        else:
            clipped.append(name)
    taken = set(labels.values())
    by_label: dict[str, list[str]] = defaultdict(list)
    default_tail = (budget - 1) // 2
    for name in clipped:
        by_label[_middle_clip(name, budget, default_tail)].append(name)
    tails = sorted(range(1, budget - 1), key=lambda t: (abs(t - default_tail), -t))
    numbers = {name: n for n, name in enumerate(dict.fromkeys(names), start=1)}
    for label, group in by_label.items():
        if len(group) == 1 and label not in taken:
            labels[group[0]] = label
            taken.add(label)
            continue
        for tail in tails:
            tried = [_middle_clip(name, budget, tail) for name in group]
            if len(set(tried)) == len(group) and not set(tried) & taken:
                labels.update(zip(group, tried, strict=True))
                taken.update(tried)
                break
        else:
            for name in group:
                tag = f"{ELLIPSIS}#{numbers[name]}"
                labels[name] = name[: budget - len(tag)] + tag
                taken.add(labels[name])
    return labels


def _caption(block: Block, short: dict[str, str], budget: int) -> str:
    """The block's second line: its workload (abbreviated without ambiguity), `spare`, or how
    many workloads share the slot across grouped GPUs."""
    if not block.hosts:
        return SPARE
    spare = f" + {block.spare} spare" if block.spare else ""
    if len(block.hosts) > 1:
        return _clip(f"{len(block.hosts)} workloads{spare}", budget)
    name = block.hosts[0]
    if spare and len(short.get(name, name)) + len(spare) > budget:
        return short.get(name, name)  # the tooltip and the grey say the rest
    return short.get(name, name) + spare


def _free_ranges(row: LayoutRow) -> list[tuple[int, int]]:
    """Unit ranges of the row that no instance covers."""
    covered = [False] * row.units
    for block in row.blocks:
        for unit in range(block.start, min(block.start + block.span, row.units)):
            covered[unit] = True
    ranges: list[tuple[int, int]] = []
    for unit, used in enumerate(covered):
        if used:
            continue
        if ranges and ranges[-1][1] == unit:
            ranges[-1] = (ranges[-1][0], unit + 1)
        else:
            ranges.append((unit, unit + 1))
    return ranges


def layout_frame(
    rows: Sequence[LayoutRow],
    names: Sequence[str] | None = None,
    colors: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One record per block and per run of free units: where it sits on its row's axis, what it
    shows and in which ink. Workload names are abbreviated without ambiguity among `names`
    (default: the workloads in `rows`)."""
    if names is None:
        names = [h for row in rows for block in row.blocks for h in block.hosts]
    colors = colors or {}
    shorts: dict[int, dict[str, str]] = {}
    records = []
    for order, row in enumerate(rows):
        chars = max(3, CAPTION_CHARS_8_UNITS * 8 // row.units)
        for block in row.blocks:
            budget = chars * block.span
            if budget not in shorts:
                shorts[budget] = short_names(names, budget)
            category = block.category
            records.append(
                {
                    "row": row.label,
                    "order": order,
                    "gpus": row.count,
                    "start": block.start,
                    "end": block.start + block.span,
                    "profile": block.profile,
                    "category": category,
                    "caption": block.caption,
                    "line1": _clip(block.profile, budget),
                    "line2": _caption(block, shorts[budget], budget),
                    "ink": ink(colors.get(category, MIXED_COLOR)),
                    "hosts": ", ".join(block.hosts) or "-",
                    "spare_on": block.spare,
                    "layout": row.layout,
                }
            )
        if row.state is not None:
            records.append(_state_record(row, order))
        for start, end in _free_ranges(row):
            records.append(
                {
                    "row": row.label,
                    "order": order,
                    "gpus": row.count,
                    "start": start,
                    "end": end,
                    "profile": "-",
                    "category": FREE,
                    "caption": "",
                    "line1": "",
                    "line2": "",
                    "ink": "black",
                    "hosts": "-",
                    "spare_on": 0,
                    "layout": row.layout,
                }
            )
    return pd.DataFrame(records)


def _state_record(row: LayoutRow, order: int) -> dict[str, object]:
    """The strip that says what a re-plan does to the row's GPU(s)."""
    assert row.state is not None
    category = STATE_CATEGORIES.get(row.state, row.state)
    return {
        "row": row.label,
        "order": order,
        "gpus": row.count,
        "start": -STATE_STRIP_UNITS,
        "end": -STATE_STRIP_GAP,
        "profile": "-",
        "category": category,
        "caption": row.state,
        "line1": row.state,
        "line2": "",
        "ink": ink(STATE_COLORS.get(category, MIXED_COLOR)),
        "hosts": "-",
        "spare_on": 0,
        "layout": row.layout or "(empty)",
    }


def layout_chart(rows: Sequence[LayoutRow], colors: dict[str, str]) -> alt.LayerChart:
    """GPUs (or groups of identical GPUs) of one unit-axis length, instances as labelled blocks,
    with a legend of every colour in the chart (free units included).

    The axis runs over every unit of the GPU; units no instance covers show as outlined white.
    """
    units = rows[0].units
    if any(r.units != units for r in rows):
        raise ValueError("one layout chart draws GPUs of one axis length")
    names = [k for k in colors if k not in (SPARE, MIXED, FREE)]
    colors = {**STATE_COLORS, **colors}
    blocks = layout_frame(rows, names or None, colors)
    sort = alt.EncodingSortField(field="order", order="ascending")
    y = alt.Y("row:N", sort=sort, title=None, axis=alt.Axis(labelLimit=ROW_LABEL_PIXELS))
    # With GPU states the axis starts left of unit 0, where each row's state strip sits.
    first = -STATE_STRIP_UNITS if any(r.state is not None for r in rows) else 0
    x_scale = alt.Scale(domain=[first, units], nice=False)
    x_axis = alt.Axis(values=list(range(units + 1)), title=f"unit ({units} per GPU)", grid=False)
    present = set(blocks["category"])
    # Legend order: workloads as the problem lists them, then the greys, then free units.
    states = list(STATE_CATEGORIES.values())
    categories = [c for c in [*names, SPARE, MIXED, FREE, *states] if c in present]
    categories += sorted(present - set(categories))
    legend_names = " : ".join(
        f"datum.label == {_js(c)} ? {_js(CATEGORY_LEGEND_NAMES[c])}"
        for c in (SPARE, MIXED)
        if c in present
    )
    color = alt.Color(
        "category:N",
        title=None,
        scale=alt.Scale(domain=categories, range=[colors.get(c, MIXED_COLOR) for c in categories]),
        legend=alt.Legend(
            orient="bottom",
            columns=LEGEND_COLUMNS,
            labelLimit=LEGEND_LABEL_PIXELS,
            symbolType="square",
            symbolStrokeColor=FRAME_COLOR,
            symbolStrokeWidth=1,
            symbolLimit=0,
            labelExpr=f"{legend_names} : datum.label" if legend_names else "datum.label",
        ),
    )
    block_layer = (
        alt.Chart(blocks)
        .mark_bar(stroke=FRAME_COLOR, strokeWidth=1)
        .encode(
            x=alt.X("start:Q", scale=x_scale, axis=x_axis),
            x2="end:Q",
            y=y,
            color=color,
            tooltip=[
                alt.Tooltip("row:N", title="GPU"),
                alt.Tooltip("layout:N"),
                alt.Tooltip("profile:N"),
                alt.Tooltip("start:Q", title="start unit"),
                alt.Tooltip("hosts:N", title="workloads"),
                alt.Tooltip("spare_on:Q", title="spare on GPUs"),
            ],
        )
    )
    text = alt.Chart(blocks).transform_calculate(middle="(datum.start + datum.end) / 2")
    lines = [
        text.mark_text(fontSize=10, baseline="middle", dy=dy).encode(
            x=alt.X("middle:Q", scale=x_scale, axis=x_axis),
            y=y,
            text=f"{field}:N",
            color=alt.Color("ink:N", scale=None, legend=None),
        )
        for field, dy in (("line1", -LINE_OFFSET), ("line2", LINE_OFFSET))
    ]
    legend_rows = -(-len(categories) // LEGEND_COLUMNS)
    height = ROW_HEIGHT * len(rows) + AXIS_HEIGHT + LEGEND_PADDING + LEGEND_ROW_HEIGHT * legend_rows
    return alt.layer(block_layer, *lines).properties(height=height)


def _js(text: str) -> str:
    """A JavaScript string literal (Vega expressions), for names from user files."""
    return json.dumps(text)


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


# --- re-plan frontier --------------------------------------------------------------------------

FRONTIER_COLUMNS = (
    "point",
    "label",
    "moved_replicas",
    "recarved_gpus",
    "cost_per_hour",
    "lower_bound_per_hour",
    "gap",
    "replicas_placed",
    "replicas_total",
    "text",
    "picked",
)
FRONTIER_KIND_COLORS = {
    CHANGE_NOTHING: "#6b6b6b",
    BUDGET: "#4e79a7",
    FRESH_OPTIMUM: "#e15759",
}
CURRENT_COST_COLOR = "#7a7a7a"


def frontier_point_text(point: FrontierPoint) -> str:
    """The label beside a frontier point: its re-carves, and what it leaves unplaced."""
    gpus = "GPU" if point.recarved_gpus == 1 else "GPUs"
    text = f"{point.recarved_gpus} {gpus} re-carved"
    if point.replicas_placed < point.replicas_total:
        text += f", places {point.replicas_placed} of {point.replicas_total}"
    return text


def frontier_frame(frontier: Frontier, picked: int | None = None) -> pd.DataFrame:
    """One record per frontier point (in the frontier's order, `point` its position), with the
    label the chart prints beside it and whether it is the point picked on the page."""
    records = [
        {
            "point": n,
            "label": point.label,
            "moved_replicas": point.moved_replicas,
            "recarved_gpus": point.recarved_gpus,
            "cost_per_hour": round(point.cost_per_hour, 4),
            "lower_bound_per_hour": round(point.lower_bound_per_hour, 4),
            "gap": format_gap(point.gap),
            "replicas_placed": point.replicas_placed,
            "replicas_total": point.replicas_total,
            "text": frontier_point_text(point),
            "picked": n == picked,
        }
        for n, point in enumerate(frontier.points)
    ]
    return pd.DataFrame(records, columns=list(FRONTIER_COLUMNS))


def frontier_chart(frame: pd.DataFrame, current_cost_per_hour: float) -> alt.LayerChart:
    """Cost per hour against replicas moved: a line through the points from "change nothing" to
    the fresh optimum, each point labelled with its re-carves, the kinds told apart by colour and
    shape, the picked point ringed, and the running fleet's cost as a dashed line."""
    kinds = [k for k in FRONTIER_KIND_COLORS if k in set(frame["label"])]
    kind = alt.Color(
        "label:N",
        title=None,
        scale=alt.Scale(domain=kinds, range=[FRONTIER_KIND_COLORS[k] for k in kinds]),
        legend=alt.Legend(orient="bottom"),
    )
    # Room right of the last point for its label.
    right = max(1.0, float(frame["moved_replicas"].max()) * 1.2)
    x = alt.X(
        "moved_replicas:Q",
        title="replicas moved",
        axis=alt.Axis(tickMinStep=1, format="d"),
        scale=alt.Scale(domain=[0, right], nice=False),
    )
    y = alt.Y("cost_per_hour:Q", title="$ per hour", scale=alt.Scale(zero=False))
    base = alt.Chart(frame)
    line = base.mark_line(color="#b0b0b0").encode(x=x, y=y, order="moved_replicas:Q")
    points = base.mark_point(filled=True, size=140, opacity=1).encode(
        x=x,
        y=y,
        color=kind,
        shape=alt.Shape(
            "label:N",
            scale=alt.Scale(domain=kinds, range=["square", "circle", "diamond"][: len(kinds)]),
            legend=None,
        ),
        tooltip=[
            alt.Tooltip("label:N", title="point"),
            alt.Tooltip("cost_per_hour:Q", title="$ per hour", format=",.2f"),
            alt.Tooltip("lower_bound_per_hour:Q", title="bound $ per hour", format=",.2f"),
            alt.Tooltip("gap:N"),
            alt.Tooltip("moved_replicas:Q", title="replicas moved"),
            alt.Tooltip("recarved_gpus:Q", title="GPUs re-carved"),
            alt.Tooltip("replicas_placed:Q", title="replicas placed"),
        ],
    )
    labels = base.mark_text(align="left", dx=10, dy=-10, fontSize=11).encode(
        x=x, y=y, text="text:N"
    )
    ring = (
        base.transform_filter("datum.picked")
        .mark_point(size=520, strokeWidth=2.5, color="black", filled=False)
        .encode(x=x, y=y)
    )
    current = pd.DataFrame(
        {
            "cost_per_hour": [current_cost_per_hour],
            "text": [f"running fleet now: ${current_cost_per_hour:,.2f}/h"],
        }
    )
    rule = (
        alt.Chart(current)
        .mark_rule(strokeDash=[6, 4], color=CURRENT_COST_COLOR)
        .encode(y="cost_per_hour:Q")
    )
    rule_text = (
        alt.Chart(current)
        .mark_text(align="right", baseline="bottom", dy=-4, color=CURRENT_COST_COLOR, fontSize=11)
        .encode(y="cost_per_hour:Q", x=alt.value("width"), text="text:N")
    )
    return alt.layer(line, rule, rule_text, points, ring, labels).properties(height=340)


# --- throughput demand -------------------------------------------------------------------------


def served_share_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Per throughput workload, the share of its required rate the plan serves (a bar; 100%
    dashed): red below 100%, so a workload the fleet cannot serve in full stands out."""
    frame = table.assign(
        covered=[
            "served in full" if share >= 1 - 1e-9 else "short of its rate"
            for share in table["served_share"]
        ],
        text=[
            f"{served:,.0f} / {required:,.0f}"
            for served, required in zip(table["served_rps"], table["required_rps"], strict=True)
        ],
    )
    # Room right of the longest bar for its label.
    right = max(1.0, float(frame["served_share"].max())) * 1.4
    y = alt.Y(
        "workload:N", sort=None, title=None, axis=alt.Axis(labelLimit=200, labelOverlap=False)
    )
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "served_share:Q",
                title="share of the required rate served (labels: served / required req/s)",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, right], nice=False),
            ),
            y=y,
            color=alt.Color(
                "covered:N",
                title=None,
                scale=alt.Scale(
                    domain=["served in full", "short of its rate"],
                    range=["#59a14f", UNPLACED_COLOR],
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                "workload",
                "model",
                alt.Tooltip("required_rps:Q", title="required req/s", format=",.1f"),
                alt.Tooltip("served_rps:Q", title="served req/s", format=",.1f"),
                alt.Tooltip("served_share:Q", title="served", format=".1%"),
            ],
        )
    )
    labels = (
        alt.Chart(frame)
        .mark_text(align="left", dx=4, fontSize=10)
        .encode(x="served_share:Q", y=y, text="text:N")
    )
    full = (
        alt.Chart(pd.DataFrame({"share": [1.0]})).mark_rule(strokeDash=[4, 3]).encode(x="share:Q")
    )
    return alt.layer(bars, full, labels).properties(
        height=26 * max(len(frame), 1) + AXIS_HEIGHT + LEGEND_PADDING
    )


def profile_mix_chart(frame: pd.DataFrame) -> alt.Chart:
    """Stacked bars: the instances of each throughput workload by profile (the chosen mix)."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "sum(instances):Q", title="instances", axis=alt.Axis(tickMinStep=1, format="d")
            ),
            y=alt.Y(
                "workload:N",
                sort=None,
                title=None,
                axis=alt.Axis(labelLimit=200, labelOverlap=False),
            ),
            color=alt.Color("profile:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=["workload", "profile", "instances"],
        )
        .properties(height=26 * max(frame["workload"].nunique(), 1) + AXIS_HEIGHT + LEGEND_PADDING)
    )

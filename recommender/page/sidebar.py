"""The sidebar: input uploads (each file applied once, all issues listed) and the what-if knobs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from recommender.errors import InputError
from recommender.page.common import md_escape
from recommender.page.replan import render_current_state
from recommender.page.state import (
    MAX_TIME_LIMIT,
    MIN_TIME_LIMIT,
    NamedFile,
    commit_inputs,
    current_files,
    first_sight,
    fleet_digest,
    load_inputs,
    notice,
    over_upload_cap,
    reset_to_sample,
    switch_to_throughput_sample,
)
from recommender.problem import Problem
from recommender.whatif import (
    MAX_DEMAND_MULTIPLIER,
    MAX_UPLOAD_MB,
    Knobs,
    overrides_from_table,
    overrides_table,
)


def render_uploads() -> None:
    """The input uploaders, the inputs' sources, the ways back to the samples, then the running
    fleet (a current state to re-plan from) and its budgets."""
    with st.sidebar:
        st.header("Inputs")
        uploads = {
            "workloads": st.file_uploader(
                "Workloads CSV", type=["csv"], key="upload_workloads", max_upload_size=MAX_UPLOAD_MB
            ),
            "fleet": st.file_uploader(
                "Fleet CSV", type=["csv"], key="upload_fleet", max_upload_size=MAX_UPLOAD_MB
            ),
            "catalog": st.file_uploader(
                "MIG catalog (optional, JSON or YAML)",
                type=["json", "yaml", "yml"],
                key="upload_catalog",
                max_upload_size=MAX_UPLOAD_MB,
            ),
            "performance": st.file_uploader(
                "Performance table CSV (optional, for request rates)",
                type=["csv"],
                key="upload_performance",
                max_upload_size=MAX_UPLOAD_MB,
                help="Measured throughput per model, GPU model and profile: what sizes the "
                "workloads given as requests_per_second.",
            ),
        }
        process_uploads(uploads)
        sources = st.session_state.inputs.sources
        performance = sources.get("performance")
        st.caption(
            md_escape(
                f"Using workloads: {sources['workloads']}; fleet: {sources['fleet']}; "
                f"catalog: {sources['catalog']}"
                + (f"; performance: {performance}." if performance else ".")
            )
        )
        buttons = st.container(horizontal=True, gap="small")
        buttons.button("Back to the sample data", on_click=reset_to_sample)
        buttons.button(
            "Throughput sample",
            on_click=switch_to_throughput_sample,
            help="Services given as request rates, sized from a measured performance table "
            "(MLPerf Inference figures on A100 MIG profiles).",
        )
        render_current_state(st.session_state.inputs)


def process_uploads(uploads: dict[str, Any]) -> None:
    """New uploads (each file once) join the pending files; if pending + current inputs load,
    they become the inputs, else the issues are kept and the last good inputs stay. Removing a
    pending file from its uploader drops it."""
    ss = st.session_state
    fresh: dict[str, NamedFile] = {}
    too_big: list[str] = []
    for kind, upload in uploads.items():
        if upload is None:
            if ss.pending.pop(kind, None) is not None and not ss.pending:
                ss.upload_errors = ""
            continue
        if not first_sight(upload):
            continue
        if refused := over_upload_cap(upload):
            too_big.append(refused)
            continue
        fresh[kind] = (upload.name, upload.getvalue())
    if fresh:
        ss.pending.update(fresh)
        files = current_files(ss.inputs) | ss.pending
        sources = dict(ss.inputs.sources)
        for kind, (name, _data) in ss.pending.items():
            sources[kind] = f"uploaded {name}"
        try:
            inputs = load_inputs(
                files["workloads"], files["fleet"], files["catalog"], sources, files["performance"]
            )
        except InputError as exc:
            ss.upload_errors = exc.report()
        else:
            commit_inputs(inputs)
            names = ", ".join(name for name, _ in fresh.values())
            notice("success", f"Uploaded inputs loaded: {names}")
    if too_big:
        ss.upload_errors = "\n".join([*too_big, ss.upload_errors]).strip()


def render_knobs(problem: Problem) -> Knobs:
    """The what-if knobs for `problem`; pool overrides outlive fleet edits for pools still
    there."""
    ss = st.session_state
    digest = fleet_digest(problem)
    if digest != ss.overrides_fleet:
        # A new fleet: the pool table restarts from it, keeping overrides of pools still there.
        ss.overrides_seed = dict(ss.last_overrides)
        ss.overrides_version += 1
        ss.overrides_fleet = digest
    fleet_models = sorted({p.gpu_model for p in problem.pools})
    ss.models_off = [m for m in ss.models_off if m in fleet_models]
    with st.sidebar:
        st.header("What-if")
        st.number_input(
            "Demand multiplier (replicas x)",
            min_value=0.1,
            max_value=MAX_DEMAND_MULTIPLIER,
            step=0.1,
            key="demand_multiplier",
            help="Every workload's replicas times this, rounded up; a workload given as a "
            "request rate has its rate times this (its minimum instances stay).",
        )
        st.multiselect("GPU models switched off", fleet_models, key="models_off")
        st.number_input(
            "Solver time limit (seconds)",
            min_value=MIN_TIME_LIMIT,
            max_value=MAX_TIME_LIMIT,
            step=1.0,
            key="time_limit",
        )
        st.caption("Pools: GPUs available and price per GPU-hour")
        table = st.data_editor(
            overrides_table(problem, ss.overrides_seed),
            key=f"pool_knobs_{ss.overrides_version}",
            disabled=["pool", "gpu_model"],
            column_order=["pool", "gpus", "cost_per_hour"],
            hide_index=True,
            width="stretch",
            column_config={
                "pool": st.column_config.TextColumn("pool", width=135),
                "gpus": st.column_config.NumberColumn("gpus", min_value=0, step=1, width=60),
                "cost_per_hour": st.column_config.NumberColumn(
                    "$/GPU-h", min_value=0.0, format="%.2f", width=85
                ),
            },
        )
    overrides = overrides_from_table(problem, table)
    ss.last_overrides = overrides
    return Knobs(
        demand_multiplier=float(ss.demand_multiplier),
        pool_overrides=overrides,
        models_off=tuple(ss.models_off),
        time_limit_seconds=float(ss.time_limit),
    )

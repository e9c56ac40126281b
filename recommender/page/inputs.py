"""The Inputs tab: the two input tables, editable; valid edits become the session's inputs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.page.state import LoadedInputs, current_files, load_inputs
from recommender.whatif import (
    THROUGHPUT_TABLE_COLUMNS,
    fleet_table,
    has_throughput_columns,
    performance_table,
    table_to_csv,
    workloads_table,
)


def render_editors(catalog: Catalog) -> str:
    """The input tables; returns the issues of invalid edits (empty when the tables load)."""
    ss = st.session_state
    base: LoadedInputs = ss.editor_base
    version = ss.editor_version
    st.caption(
        "Edit cells, add rows at the bottom, delete rows by selecting them. Valid edits re-solve; "
        "while a table has problems the plan keeps the last good inputs."
    )
    st.subheader("Workloads")
    workloads_base = workloads_table(base.problem.workloads)
    # The rate columns only where rates are used (they stay in the table, so nothing is lost).
    rates = bool(base.problem.performance) or has_throughput_columns(workloads_base)
    workloads = _editor(
        "workloads",
        workloads_base,
        version,
        workload_columns(catalog),
        column_order=[
            c for c in workloads_base.columns if rates or c not in THROUGHPUT_TABLE_COLUMNS
        ],
    )
    st.subheader("Fleet")
    fleet = _editor("fleet", fleet_table(base.problem.pools), version, fleet_columns(catalog))
    st.subheader("Performance")
    st.caption(
        "Measured throughput of one instance per model, GPU model and profile (optionally at a "
        "latency, batch size, processes sharing the instance, memory). Workloads given as "
        "requests_per_second are sized from it; leave it empty when none is."
    )
    performance = _editor(
        "performance",
        performance_table(base.problem.performance),
        version,
        performance_columns(catalog),
    )
    tables = {"workloads": workloads, "fleet": fleet, "performance": performance}
    for column, (name, table) in zip(st.columns(len(tables)), tables.items(), strict=True):
        column.download_button(
            f"Download {name}.csv",
            table_to_csv(table, guard_formulas=True),
            file_name=f"{name}.csv",
            mime="text/csv",
            on_click="ignore",
        )
    performance_csv = table_to_csv(performance) if not performance.empty else None
    return apply_edits(table_to_csv(workloads), table_to_csv(fleet), performance_csv)


def _editor(
    name: str, table: pd.DataFrame, version: int, columns: dict[str, Any], **options: Any
) -> pd.DataFrame:
    """An editable input table with rows to add and delete; its widget key carries the editor
    version, so loading new inputs starts every table afresh."""
    return st.data_editor(
        table,
        num_rows="dynamic",
        key=f"{name}_editor_{version}",
        width="stretch",
        column_config=columns,
        **options,
    )


def apply_edits(workloads_csv: str, fleet_csv: str, performance_csv: str | None = None) -> str:
    """Edited tables that load become the inputs (the editors keep their base); returns the
    issues of tables that do not load. An empty performance table is no table (None)."""
    ss = st.session_state
    current: LoadedInputs = ss.inputs
    files = current.files
    edited = (workloads_csv, fleet_csv, performance_csv)
    if edited == (files.workloads_csv, files.fleet_csv, files.performance_csv):
        return ""
    sources = dict(current.sources)
    if workloads_csv != files.workloads_csv:
        sources["workloads"] = "edited table"
    if fleet_csv != files.fleet_csv:
        sources["fleet"] = "edited table"
    if performance_csv != files.performance_csv:
        if performance_csv is None:
            sources.pop("performance", None)
        else:
            sources["performance"] = "edited table"
    try:
        ss.inputs = load_inputs(
            ("workloads table", workloads_csv.encode()),
            ("fleet table", fleet_csv.encode()),
            current_files(current)["catalog"],
            sources,
            None if performance_csv is None else ("performance table", performance_csv.encode()),
        )
    except InputError as exc:
        return exc.report()
    return ""


def workload_columns(catalog: Catalog) -> dict[str, Any]:
    models = ", ".join(catalog.models)
    return {
        "name": st.column_config.TextColumn("name", required=True),
        "memory_gb": st.column_config.NumberColumn("memory_gb", min_value=0.0, format="%g"),
        "compute_slices": st.column_config.NumberColumn("compute_slices", min_value=1, max_value=7),
        "replicas": st.column_config.NumberColumn("replicas", min_value=1, step=1),
        "gpu_models": st.column_config.TextColumn(
            "gpu_models", help=f"Model keys joined by |, empty for any. Known: {models}"
        ),
        "priority": st.column_config.NumberColumn("priority", min_value=1, step=1),
        "media": st.column_config.CheckboxColumn("media"),
        "spread": st.column_config.CheckboxColumn("spread"),
        "max_unavailable": st.column_config.NumberColumn(
            "max_unavailable",
            min_value=0,
            step=1,
            help="Replicas that may be down at once while a re-plan rolls out (default 1).",
        ),
        "requests_per_second": st.column_config.NumberColumn(
            "requests_per_second",
            min_value=0.0,
            format="%g",
            help="The rate to serve: the planner then chooses the instances (replicas is "
            "their minimum). Empty: a count workload.",
        ),
        "latency_ms": st.column_config.NumberColumn(
            "latency_ms", min_value=0.0, format="%g", help="The latency objective (optional)."
        ),
        "model": st.column_config.TextColumn(
            "model", help="The performance table's model (default: the workload's name)."
        ),
    }


def performance_columns(catalog: Catalog) -> dict[str, Any]:
    return {
        "model": st.column_config.TextColumn("model", required=True),
        "gpu_model": st.column_config.SelectboxColumn("gpu_model", options=list(catalog.models)),
        "profile": st.column_config.TextColumn("profile", help="A profile of that GPU model."),
        "throughput_rps": st.column_config.NumberColumn(
            "throughput_rps", min_value=0.0, format="%g"
        ),
        "latency_ms": st.column_config.NumberColumn("latency_ms", min_value=0.0, format="%g"),
        "batch_size": st.column_config.NumberColumn("batch_size", min_value=1, step=1),
        "processes": st.column_config.NumberColumn("processes", min_value=1, step=1),
        "memory_gb": st.column_config.NumberColumn("memory_gb", min_value=0.0, format="%g"),
    }


def fleet_columns(catalog: Catalog) -> dict[str, Any]:
    return {
        "pool": st.column_config.TextColumn("pool", required=True),
        "gpu_model": st.column_config.SelectboxColumn("gpu_model", options=list(catalog.models)),
        "gpus": st.column_config.NumberColumn("gpus", min_value=0, step=1),
        "cost_per_hour": st.column_config.NumberColumn("cost_per_hour", min_value=0.0, format="%g"),
        "gpus_per_node": st.column_config.NumberColumn("gpus_per_node", min_value=1, step=1),
    }

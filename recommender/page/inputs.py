"""The Inputs tab: the two input tables, editable; valid edits become the session's inputs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.page.state import LoadedInputs, current_files, load_inputs
from recommender.whatif import fleet_table, table_to_csv, workloads_table


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
    workloads = st.data_editor(
        workloads_table(base.problem.workloads),
        num_rows="dynamic",
        key=f"workloads_editor_{version}",
        width="stretch",
        column_config=workload_columns(catalog),
    )
    st.subheader("Fleet")
    fleet = st.data_editor(
        fleet_table(base.problem.pools),
        num_rows="dynamic",
        key=f"fleet_editor_{version}",
        width="stretch",
        column_config=fleet_columns(catalog),
    )
    left, right = st.columns(2)
    left.download_button(
        "Download workloads.csv",
        table_to_csv(workloads, guard_formulas=True),
        file_name="workloads.csv",
        mime="text/csv",
        on_click="ignore",
    )
    right.download_button(
        "Download fleet.csv",
        table_to_csv(fleet, guard_formulas=True),
        file_name="fleet.csv",
        mime="text/csv",
        on_click="ignore",
    )
    return apply_edits(table_to_csv(workloads), table_to_csv(fleet))


def apply_edits(workloads_csv: str, fleet_csv: str) -> str:
    """Edited tables that load become the inputs (the editors keep their base); returns the
    issues of tables that do not load."""
    ss = st.session_state
    current: LoadedInputs = ss.inputs
    if (workloads_csv, fleet_csv) == (current.files.workloads_csv, current.files.fleet_csv):
        return ""
    sources = dict(current.sources)
    if workloads_csv != current.files.workloads_csv:
        sources["workloads"] = "edited table"
    if fleet_csv != current.files.fleet_csv:
        sources["fleet"] = "edited table"
    try:
        ss.inputs = load_inputs(
            ("workloads table", workloads_csv.encode()),
            ("fleet table", fleet_csv.encode()),
            current_files(current)["catalog"],
            sources,
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
    }


def fleet_columns(catalog: Catalog) -> dict[str, Any]:
    return {
        "pool": st.column_config.TextColumn("pool", required=True),
        "gpu_model": st.column_config.SelectboxColumn("gpu_model", options=list(catalog.models)),
        "gpus": st.column_config.NumberColumn("gpus", min_value=0, step=1),
        "cost_per_hour": st.column_config.NumberColumn("cost_per_hour", min_value=0.0, format="%g"),
        "gpus_per_node": st.column_config.NumberColumn("gpus_per_node", min_value=1, step=1),
    }

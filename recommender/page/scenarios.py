"""The Scenarios tab: save the current inputs, knobs and plan under a name; list, compare side
by side, load back, export, rename, delete and import scenarios (`recommender.scenarios`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from recommender.jobs import SolveJob, solve_key
from recommender.page.common import md_escape
from recommender.page.solving import solve_options
from recommender.page.state import (
    clamp_time_limit,
    commit_inputs,
    first_sight,
    fleet_digest,
    loaded,
    notice,
)
from recommender.plan import Plan
from recommender.scenarios import (
    Scenario,
    ScenarioError,
    ScenarioInputs,
    ScenarioStore,
    clean_name,
    comparison_table,
    database_path,
    export_scenario,
    import_scenario,
    now,
    open_scenario,
)
from recommender.whatif import MAX_UPLOAD_MB, Knobs

CURRENT = "Current (unsaved)"
HIGHLIGHT = "background-color: #fff2a8"


def db_option() -> str | None:
    """`--db PATH` after `streamlit run app.py --`; unknown arguments are left to Streamlit."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.db


@st.cache_resource(show_spinner=False)
def scenario_store(path: str) -> ScenarioStore:
    return ScenarioStore(Path(path))


def render_scenarios(files: ScenarioInputs, knobs: Knobs, plan: Plan) -> None:
    path = database_path(db_option())
    try:
        store = scenario_store(str(path))
        names = store.names()
    except ScenarioError as exc:
        st.error("Saved scenarios are unavailable.")
        st.code(str(exc), language=None)
        return
    st.caption(md_escape(f"Saved in {path}"))
    save_col, overwrite_col = st.columns([3, 1])
    save_col.text_input("Scenario name", key="scenario_name", max_chars=100)
    overwrite_col.checkbox("Overwrite", key="scenario_overwrite")
    st.button(
        "Save scenario", type="primary", on_click=save_scenario, args=(store, files, knobs, plan)
    )
    infos = store.list_scenarios()
    if infos:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "name": i.name,
                        "status": i.status,
                        "cost_per_hour": i.cost_per_hour,
                        "saved": i.updated_at,
                    }
                    for i in infos
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    render_comparison(store, names, plan)
    if names:
        render_manage(store, names)
    st.subheader("Import")
    upload = st.file_uploader(
        "Scenario file (JSON)", type=["json"], key="upload_scenario", max_upload_size=MAX_UPLOAD_MB
    )
    import_uploaded_scenario(store, upload)


def render_comparison(store: ScenarioStore, names: list[str], plan: Plan) -> None:
    ss = st.session_state
    st.subheader("Compare")
    options = [CURRENT, *names]
    if "compare_names" not in ss:
        ss.compare_names = options[:4]
    ss.compare_names = [n for n in ss.compare_names if n in options]
    chosen = st.multiselect("Scenarios side by side", options, key="compare_names")
    if len(chosen) < 2:
        st.caption("Pick two or more scenarios (saved ones, and the current plan) to compare.")
        return
    columns: list[tuple[str, Plan]] = []
    for name in chosen:
        try:
            columns.append((name, plan if name == CURRENT else store.load(name).plan))
        except ScenarioError as exc:
            st.error(md_escape(str(exc)))
    if len(columns) < 2:
        return
    shown, mask = comparison_table(columns)
    styled = shown.style.apply(lambda _: mask.replace({True: HIGHLIGHT, False: ""}), axis=None)
    st.dataframe(styled, width="stretch")
    st.caption(md_escape(f"Highlighted: differs from the first column ({columns[0][0]})."))


def render_manage(store: ScenarioStore, names: list[str]) -> None:
    ss = st.session_state
    st.subheader("Manage")
    if ss.get("scenario_pick") not in names:
        ss.scenario_pick = names[0]
    pick = st.selectbox("Scenario", names, key="scenario_pick")
    load_col, export_col = st.columns(2)
    load_col.button("Load into the page", on_click=load_scenario, args=(store, pick))
    try:
        exported = export_scenario(store.load(pick))
    except ScenarioError as exc:
        st.error(md_escape(str(exc)))
    else:
        export_col.download_button(
            "Export as JSON",
            exported,
            file_name=f"scenario-{safe_file_stem(pick)}.json",
            mime="application/json",
            on_click="ignore",
        )
    rename_col, rename_button = st.columns([3, 1])
    rename_col.text_input("New name", key="scenario_new_name", max_chars=100)
    rename_button.button("Rename", on_click=rename_scenario, args=(store, pick))
    confirm_col, delete_col = st.columns([3, 1])
    confirm_col.checkbox("Yes, delete it", key="scenario_confirm_delete")
    delete_col.button("Delete", on_click=delete_scenario, args=(store, pick))


def safe_file_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-")
    return stem[:60] or "scenario"


# --- button callbacks (they run before the next run; `notice` reports their outcome) ------------


def save_scenario(store: ScenarioStore, files: ScenarioInputs, knobs: Knobs, plan: Plan) -> None:
    ss = st.session_state
    try:
        name = clean_name(ss.scenario_name)
        scenario = Scenario(name=name, created_at=now(), inputs=files, knobs=knobs, plan=plan)
        store.save(scenario, overwrite=bool(ss.get("scenario_overwrite", False)))
    except (ScenarioError, ValueError) as exc:
        notice("error", f"Not saved: {exc}")
        return
    notice("success", f"Saved scenario '{name}'.")
    selected = [n for n in ss.get("compare_names", [CURRENT]) if n != name]
    ss.compare_names = [*selected, name]


def load_scenario(store: ScenarioStore, name: str) -> None:
    """The scenario's inputs and knobs become the page's; its plan is shown as saved (no
    re-solve) while the knobs stay as they were, unless it breaks the placement rules."""
    ss = st.session_state
    try:
        opened = open_scenario(store.load(name), f"scenario '{name}'")
    except ScenarioError as exc:
        notice("error", f"Not loaded: {exc}")
        return
    scenario, catalog = opened.scenario, opened.catalog
    files, knobs = scenario.inputs, scenario.knobs
    catalog_file = files.catalog_file.encode() if files.catalog_file is not None else None
    label = f"scenario {name}"
    sources = {"workloads": label, "fleet": label, "catalog": label if catalog_file else "built-in"}
    commit_inputs(loaded(opened.problem, catalog, catalog_file, files.catalog_name, sources))
    ss.demand_multiplier = knobs.demand_multiplier
    ss.models_off = list(knobs.models_off)
    ss.time_limit = clamp_time_limit(knobs.time_limit_seconds)
    ss.overrides_seed = dict(knobs.pool_overrides)
    ss.last_overrides = dict(knobs.pool_overrides)
    ss.overrides_version += 1
    ss.overrides_fleet = fleet_digest(opened.problem)
    if opened.violations:
        notice(
            "error",
            f"The saved plan of '{name}' breaks the placement rules "
            f"({len(opened.violations)} problems); it is solved again.",
        )
    else:
        shown_knobs = knobs.model_copy(update={"time_limit_seconds": float(ss.time_limit)})
        key = solve_key(opened.knobbed, catalog, solve_options(shown_knobs))
        ss.known_plans[key] = SolveJob.finished(scenario.plan, [])
    notice("success", f"Loaded scenario '{name}'.")


def rename_scenario(store: ScenarioStore, old: str) -> None:
    ss = st.session_state
    try:
        new = store.rename(old, ss.get("scenario_new_name", ""))
    except ScenarioError as exc:
        notice("error", f"Not renamed: {exc}")
        return
    ss.compare_names = [new if n == old else n for n in ss.get("compare_names", [])]
    ss.scenario_pick = new
    notice("success", f"Renamed '{old}' to '{new}'.")


def delete_scenario(store: ScenarioStore, name: str) -> None:
    ss = st.session_state
    if not ss.get("scenario_confirm_delete", False):
        notice("error", "Tick 'yes, delete it' first.")
        return
    try:
        store.delete(name)
    except ScenarioError as exc:
        notice("error", f"Not deleted: {exc}")
        return
    ss.compare_names = [n for n in ss.get("compare_names", []) if n != name]
    ss.scenario_confirm_delete = False
    notice("success", f"Deleted scenario '{name}'.")


def import_uploaded_scenario(store: ScenarioStore, upload: Any) -> None:
    """An uploaded scenario file (each file once) is checked and saved under a free name."""
    if upload is None or not first_sight(upload):
        return
    try:
        scenario = import_scenario(upload.getvalue(), label=upload.name)
        name = store.free_name(scenario.name)
        store.save(scenario.model_copy(update={"name": name}))
    except ScenarioError as exc:
        st.error("Scenario file refused.")
        st.code(str(exc), language=None)
        return
    st.success(md_escape(f"Imported scenario '{name}'."))

"""Inputs tab, "Import from a cluster": `kubectl get nodes -o json` (+ a price) and `kubectl get
pods -A -o json` uploads become the fleet and workloads tables (`recommender.cluster`), shown
with the importer's notes before "Use these" loads them as the page's inputs, through the same
path as CSV uploads (`state.load_inputs`; problems listed like every upload's).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from recommender.catalog import Catalog
from recommender.cluster.nodes import read_nodes
from recommender.cluster.pods import read_pods
from recommender.errors import InputError
from recommender.page.common import md_escape, show_errors
from recommender.page.state import commit_inputs, current_files, load_inputs, notice
from recommender.whatif import MAX_UPLOAD_MB


@dataclass(frozen=True)
class ClusterPreview:
    """What the uploaded cluster files give: CSV texts (None when not given or not readable),
    the importers' notes and every problem found."""

    fleet_csv: str | None = None
    workloads_csv: str | None = None
    nodes_name: str = ""
    pods_name: str = ""
    notes: tuple[str, ...] = ()
    errors: str = ""
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return not self.errors and (self.fleet_csv is not None or self.workloads_csv is not None)


def cluster_preview(
    nodes: tuple[str, bytes] | None,
    pods: tuple[str, bytes] | None,
    catalog: Catalog,
    price: float | None,
    pool_label: str | None,
) -> ClusterPreview:
    """The fleet and workloads tables of the uploads; the nodes' GPU models size the pods'
    whole-GPU requests."""
    fleet_csv = workloads_csv = None
    notes: list[str] = []
    errors: list[str] = []
    node_models = None
    if nodes is not None:
        try:
            imported = read_nodes(
                nodes[1], catalog, label=nodes[0], pool_label=pool_label or None, price=price
            )
        except InputError as exc:
            errors.append(exc.report())
        else:
            fleet_csv = imported.fleet_csv()
            notes += imported.notes
            node_models = {n.node: n.gpu_model for n in imported.inventory.nodes}
    if pods is not None:
        try:
            imported_pods = read_pods(pods[1], catalog, label=pods[0], node_models=node_models)
        except InputError as exc:
            errors.append(exc.report())
        else:
            if imported_pods.rows:
                workloads_csv = imported_pods.workloads_csv()
            else:
                errors.append(f"{pods[0]}: no running pod requests an NVIDIA GPU or MIG device")
            notes += imported_pods.notes
    return ClusterPreview(
        fleet_csv=fleet_csv,
        workloads_csv=workloads_csv,
        nodes_name=nodes[0] if nodes else "",
        pods_name=pods[0] if pods else "",
        notes=tuple(notes),
        errors="\n".join(errors),
    )


def use_preview(preview: ClusterPreview) -> None:
    """ "Use these": the imported tables (with the current other input) become the inputs."""
    ss = st.session_state
    files = current_files(ss.inputs)
    sources = dict(ss.inputs.sources)
    if preview.fleet_csv is not None:
        files["fleet"] = (f"fleet from {preview.nodes_name}", preview.fleet_csv.encode())
        sources["fleet"] = f"imported {preview.nodes_name}"
    if preview.workloads_csv is not None:
        files["workloads"] = (f"workloads from {preview.pods_name}", preview.workloads_csv.encode())
        sources["workloads"] = f"imported {preview.pods_name}"
    try:
        inputs = load_inputs(
            files["workloads"], files["fleet"], files["catalog"], sources, files["performance"]
        )
    except InputError as exc:
        ss.upload_errors = exc.report()
        return
    commit_inputs(inputs)
    notice("success", "Cluster inputs loaded: " + ", ".join(sorted(set(sources.values()))))


def render_cluster_import(catalog: Catalog) -> None:
    with st.expander("Import from a cluster"):
        st.caption(
            "Upload `kubectl get nodes -o json` (GPU Feature Discovery labels give each node's "
            "GPU model and count) and/or `kubectl get pods -A -o json` (MIG and GPU requests). "
            "The CLI's `import` commands do the same and more (README, From a live cluster)."
        )
        nodes = st.file_uploader(
            "kubectl get nodes -o json", type=["json"], key="cluster_nodes",
            max_upload_size=MAX_UPLOAD_MB,
        )  # fmt: skip
        left, right = st.columns(2)
        price = left.number_input(
            "Price per GPU-hour ($), every pool", min_value=0.0, value=None, key="cluster_price"
        )
        pool_label = right.text_input(
            "Pool label (empty: one pool per GPU model)",
            key="cluster_pool_label",
            placeholder="cloud.google.com/gke-nodepool",
        )
        pods = st.file_uploader(
            "kubectl get pods -A -o json", type=["json"], key="cluster_pods",
            max_upload_size=MAX_UPLOAD_MB,
        )  # fmt: skip
        if nodes is None and pods is None:
            return
        preview = cluster_preview(
            None if nodes is None else (nodes.name, nodes.getvalue()),
            None if pods is None else (pods.name, pods.getvalue()),
            catalog,
            price,
            pool_label,
        )
        show_errors(st, "The cluster files have problems.", preview.errors)
        for title, text in (("Fleet", preview.fleet_csv), ("Workloads", preview.workloads_csv)):
            if text is not None:
                st.markdown(f"**{title} (imported)**")
                st.dataframe(pd.read_csv(io.StringIO(text)), hide_index=True, width="stretch")
        for note in preview.notes:
            st.caption(md_escape(note))
        st.button("Use these", disabled=not preview.usable, on_click=use_preview, args=(preview,))

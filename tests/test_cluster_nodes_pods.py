"""kubectl nodes -> fleet + inventory; kubectl pods (+ DCGM samples) -> workloads."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from recommender.cluster.nodes import NodeInventory, read_nodes, read_prices, resolve_product
from recommender.cluster.pods import owner_name, read_dcgm, read_pods, resource_profile
from recommender.errors import InputError
from recommender.locate import node_locator
from recommender.problem import Problem
from recommender.reading import load_catalog

DATA = Path(__file__).parent / "data" / "cluster"
POOL_LABEL = "cloud.google.com/gke-nodepool"


def _error(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    return caught.value.report()


def _nodes():
    prices = read_prices(DATA / "prices.csv")
    return read_nodes(DATA / "nodes.json", load_catalog(), pool_label=POOL_LABEL, prices=prices)


def test_nodes_become_pools_and_inventory() -> None:
    imported = _nodes()
    rows = list(csv.DictReader(io.StringIO(imported.fleet_csv())))
    assert rows == [
        {"pool": "a100-pool", "gpu_model": "A100-40GB", "gpus": "4", "cost_per_hour": "3.67",
         "gpus_per_node": "2"},
        {"pool": "h100-pool", "gpu_model": "H100-80GB", "gpus": "1", "cost_per_hour": "9.8",
         "gpus_per_node": "1"},
    ]  # fmt: skip
    assert "node cpu-node-1: no GPUs, skipped" in imported.notes
    inventory = imported.inventory
    assert inventory.gpu_index("gpu-node-b", 1) == ("a100-pool", 3)
    problem = inventory.attach(Problem(workloads=(), pools=imported.pools))
    assert node_locator(problem)("a100-pool", 3) == ("gpu-node-b", 1)
    assert NodeInventory.from_json(inventory.to_json().encode()) == NodeInventory(
        tuple(
            type(n)(n.node, n.pool, n.gpu_model, n.gpus, n.product, n.mig_strategy, n.mig_config)
            for n in inventory.nodes
        )
    )


def test_pools_by_product_and_one_price() -> None:
    imported = read_nodes(DATA / "nodes.json", load_catalog(), price=2.5)
    assert [p.pool for p in imported.pools] == ["A100-40GB", "H100-80GB"]
    assert all(p.cost_per_hour == 2.5 for p in imported.pools)


def test_product_names_resolve() -> None:
    catalog = load_catalog()
    assert resolve_product("NVIDIA-A100-SXM4-40GB", catalog) == ("A100-40GB", None)
    assert resolve_product("A100-SXM4-40GB-MIG-1g.5gb", catalog) == ("A100-40GB", "1g.5gb")
    assert resolve_product("NVIDIA-A100-80GB-PCIe", catalog) == ("A100-80GB", None)


def test_hostile_nodes() -> None:
    catalog = load_catalog()
    data = json.loads((DATA / "nodes.json").read_text())
    data["items"][0]["metadata"]["labels"]["nvidia.com/gpu.product"] = "NVIDIA-Z900"
    message = _error(
        lambda: read_nodes(json.dumps(data).encode(), catalog, price=1, label="n.json")
    )
    assert "node gpu-node-a: GPU product 'NVIDIA-Z900' is not in the catalog" in message
    assert "catalog import" in message
    assert "no price for pool 'a100-pool'" in _error(
        lambda: read_nodes(DATA / "nodes.json", catalog, pool_label=POOL_LABEL)
    )
    assert "not valid JSON" in _error(lambda: read_nodes(b'{"items": [', catalog, price=1))
    assert "empty" in _error(lambda: read_nodes(b"", catalog, price=1))
    assert "kubectl get nodes -o json" in _error(lambda: read_nodes(b'{"kind": "Pod"}', catalog))
    assert "has no 'team' label" in _error(
        lambda: read_nodes(DATA / "nodes.json", catalog, pool_label="team", price=1)
    )
    assert "n.csv:2: cost_per_hour" in _error(
        lambda: read_prices(b"pool,cost_per_hour\na,x\n", "n.csv")
    )


def test_pods_become_workloads() -> None:
    models = {n.node: n.gpu_model for n in _nodes().inventory.nodes}
    imported = read_pods(DATA / "pods.json", load_catalog(), node_models=models)
    rows = {r.name: r for r in imported.rows}
    assert set(rows) == {"serving/llm-small", "serving/embedder", "media/transcode"}
    assert (rows["serving/llm-small"].replicas, rows["serving/llm-small"].memory_gb) == (2, 4.75)
    assert rows["serving/embedder"].compute_slices == 3
    assert rows["media/transcode"].media and rows["media/transcode"].memory_gb == 9.75
    header = imported.workloads_csv().splitlines()[0]
    assert header == "name,memory_gb,compute_slices,replicas,gpu_models,media"


def test_dcgm_peaks_set_memory_with_headroom() -> None:
    peaks = read_dcgm(DATA / "dcgm.prom")
    assert peaks[("serving", "llm-small-7d4b9c8f6d-fghij")] == 3400
    imported = read_pods(DATA / "pods.json", load_catalog(), peaks_mib=peaks, headroom=0.2)
    row = next(r for r in imported.rows if r.name == "serving/llm-small")
    assert row.memory_gb == pytest.approx(3400 * 1.2 / 1024, abs=1e-3)
    query = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "DCGM_FI_DEV_FB_USED", "pod": "p", "namespace": "n"},
         "values": [[1, "100"], [2, "250"]]}]}}  # fmt: skip
    assert read_dcgm(json.dumps(query).encode()) == {("n", "p"): 250.0}


def test_owner_and_resource_names() -> None:
    pod = {"metadata": {"name": "a-b-5f6d7c8b9-xyz12", "labels": {"pod-template-hash": "5f6d7c8b9"},
           "ownerReferences": [{"kind": "ReplicaSet", "name": "a-b-5f6d7c8b9"}]}}  # fmt: skip
    assert owner_name(pod) == ("Deployment", "a-b")
    assert resource_profile("nvidia.com/mig-1g.24gb.me.all") == "1g.24gb+me.all"
    assert resource_profile("nvidia.com/mig-1g.24gb-me") == "1g.24gb-me"


def test_hostile_pods_and_dcgm() -> None:
    catalog = load_catalog()
    data = json.loads((DATA / "pods.json").read_text())
    limits = data["items"][2]["spec"]["containers"][0]["resources"]["limits"]
    limits["nvidia.com/mig-9g.99gb"] = "1"
    del limits["nvidia.com/mig-3g.20gb"]
    del data["items"][2]["spec"]["containers"][0]["resources"]["requests"]
    message = _error(lambda: read_pods(json.dumps(data).encode(), catalog, label="p.json"))
    assert "serving/embedder: nvidia.com/mig-9g.99gb names profile 9g.99gb" in message
    assert "binary" in _error(lambda: read_pods(b"\x00", catalog))
    assert "d.prom:1: not a Prometheus sample" in _error(
        lambda: read_dcgm(b"DCGM_FI_DEV_FB_USED{pod=", "d.prom")
    )
    assert "no DCGM_FI_DEV_FB_USED samples" in _error(lambda: read_dcgm(b"other_metric 1\n"))
    assert "is not a memory figure" in _error(
        lambda: read_dcgm(b'DCGM_FI_DEV_FB_USED{pod="p",namespace="n"} -3\n')
    )

"""`nvidia-smi mig -lgi` captures -> the current state in the plan contract's shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.cluster.lgi import current_state, parse_lgi, read_lgi_files
from recommender.cluster.nodes import NodeInfo, NodeInventory
from recommender.errors import InputError
from recommender.plan import PlanGpu
from recommender.reading import load_catalog

DATA = Path(__file__).parent / "data" / "cluster"
INVENTORY = NodeInventory(
    (
        NodeInfo("gpu-node-a", "east", "A100-40GB", 2, "NVIDIA-A100-SXM4-40GB"),
        NodeInfo("gpu-node-b", "east", "A100-40GB", 2, "NVIDIA-A100-SXM4-40GB"),
        NodeInfo("h100-node", "west", "H100-80GB", 8, "NVIDIA-H100-80GB-HBM3"),
    )
)


def _error(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    return caught.value.report()


def test_captures_become_plan_gpus_with_exact_starts() -> None:
    state = read_lgi_files(sorted((DATA / "lgi").iterdir()), INVENTORY, load_catalog())
    gpus = [PlanGpu.model_validate(gpu) for gpu in state["gpus"]]
    assert [(g.pool, g.index) for g in gpus] == [("east", 0), ("east", 2)]
    assert [(i.profile, i.start) for i in gpus[0].instances] == [
        ("1g.5gb", 0),
        ("1g.5gb", 1),
        ("2g.10gb", 2),
        ("3g.20gb", 4),
    ]
    assert all(i.workload is None for g in gpus for i in g.instances)


def test_h100_capture() -> None:
    state = current_state({"h100-node": DATA / "h100-80gb-lgi.txt"}, INVENTORY, load_catalog())
    (gpu,) = state["gpus"]
    assert gpu["gpu_model"] == "H100-80GB" and len(gpu["instances"]) == 7


def test_hostile_lgi_inputs() -> None:
    good = (DATA / "lgi" / "gpu-node-a.txt").read_text()
    assert "empty" in _error(lambda: parse_lgi(b" \n", "n.txt"))
    assert "binary" in _error(lambda: parse_lgi(b"\x00GPU instances:", "n.txt"))
    lgip = (DATA / "a100-40gb-lgip.txt").read_text()
    assert "this is `nvidia-smi mig -lgip` output" in _error(
        lambda: parse_lgi(lgip.encode(), "n.txt")
    )
    cut = "\n".join(good.splitlines()[:-1])
    assert "n.txt:12: the table does not end" in _error(lambda: parse_lgi(cut.encode(), "n.txt"))
    assert parse_lgi(b"No GPU instances found: Not Found\n", "n.txt") == []


def test_state_problems_name_file_and_line() -> None:
    catalog = load_catalog()
    good = (DATA / "lgi" / "gpu-node-a.txt").read_text()
    unknown = good.replace("MIG 2g.10gb         14", "MIG 2g.20gb         14")
    message = _error(lambda: current_state({"gpu-node-a": unknown.encode()}, INVENTORY, catalog))
    assert "gpu-node-a:10: profile 2g.20gb does not exist on A100-40GB" in message
    overlap = good.replace("2:2     |", "1:2     |")
    assert "not a valid A100-40GB layout" in _error(
        lambda: current_state({"gpu-node-a": overlap.encode()}, INVENTORY, catalog)
    )
    assert "no node 'ghost'" in _error(
        lambda: current_state({"ghost": good.encode()}, INVENTORY, catalog)
    )
    far = good.replace("|   0  MIG 3g", "|   5  MIG 3g")
    assert "GPU 5: node gpu-node-a has 2 GPUs" in _error(
        lambda: current_state({"gpu-node-a": far.encode()}, INVENTORY, catalog)
    )

"""The instances running now: `nvidia-smi mig -lgi` captures -> a current-state plan JSON.

One capture per node, in a file named after the node (`gpu-node-7.txt` is node `gpu-node-7`).
Unlike a mig-parted config, `-lgi` carries each instance's exact `Placement Start:Size`, so the
current state keeps real start slots. The result is `{"gpus": [...]}` in the plan contract's
shape (docs/design.md, "The plan"): pool, index, gpu_model and instances with workload null.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from recommender.catalog import Catalog
from recommender.cluster.lgip import TABLE_BORDER
from recommender.cluster.nodes import NodeInventory
from recommender.errors import InputError, InputIssue
from recommender.layouts import layout_violations
from recommender.reading.source import Source, read_text, source_label

LGI_EXPECTED = "the output of `nvidia-smi mig -lgi`"
_LGI_ROW = re.compile(
    r"^\|\s*(?P<gpu>\d+)\s+MIG\s+(?P<name>\S+)\s+(?P<profile_id>\d+)\s+(?P<instance_id>\d+)\s+"
    r"(?P<start>\d+):(?P<size>\d+)\s*\|?\s*$"
)
_NO_INSTANCES = ("No GPU instances found", "No MIG-enabled devices found")


@dataclass(frozen=True)
class LgiRow:
    gpu: int
    profile: str
    profile_id: int
    instance_id: int
    start: int
    size: int
    line: int


def parse_lgi(source: Source, label: str | None = None) -> list[LgiRow]:
    """The GPU instances of one node's `-lgi` capture (none when the capture says so)."""
    name = label or source_label(source, "lgi.txt")
    text = read_text(source, name, LGI_EXPECTED)
    if any(phrase in text for phrase in _NO_INSTANCES) and "GPU instances:" not in text:
        return []
    if "GPU instances:" not in text:
        if "GPU instance profiles:" in text:
            raise InputError.single(
                name, f"this is `nvidia-smi mig -lgip` output, expected {LGI_EXPECTED}"
            )
        if "Compute instances:" in text:
            raise InputError.single(
                name, f"this is `nvidia-smi mig -lci` output, expected {LGI_EXPECTED}"
            )
        if re.search(r"Profile\s+ID\s+\d+\s+Placements?", text):
            raise InputError.single(
                name, f"this is `nvidia-smi mig -lgipp` output, expected {LGI_EXPECTED}"
            )
        raise InputError.single(name, f"no `GPU instances:` table (expected {LGI_EXPECTED})")
    rows: list[LgiRow] = []
    issues: list[InputIssue] = []
    in_table = False
    closed = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if "GPU instances:" in line:
            in_table = True
            continue
        if not in_table or not line:
            continue
        if TABLE_BORDER.match(line):
            closed = line.startswith("+")
            continue
        if re.search(r"\bGPU\s+Name\b|Start:Size|^\|\s+ID\s+ID", line):
            continue
        closed = False
        match = _LGI_ROW.match(line)
        if match is None:
            msg = f"not a row of the `-lgi` table: {line[:80]!r}"
            issues.append(InputIssue(name, number, None, msg))
            continue
        rows.append(
            LgiRow(
                gpu=int(match["gpu"]),
                profile=match["name"],
                profile_id=int(match["profile_id"]),
                instance_id=int(match["instance_id"]),
                start=int(match["start"]),
                size=int(match["size"]),
                line=number,
            )
        )
    if rows and not closed:
        issues.append(
            InputIssue(name, rows[-1].line, None, "the table does not end: capture truncated?")
        )
    if issues:
        raise InputError(issues)
    return rows


def node_name_of(path: str | Path) -> str:
    """The node a capture file is about: its name without the extension."""
    return Path(path).stem if Path(path).suffix in (".txt", ".log", ".out") else Path(path).name


def current_state(
    captures: Mapping[str, Source], inventory: NodeInventory, catalog: Catalog
) -> dict:
    """`{"gpus": [...]}` of the instances the captures show, keyed {node name: capture}.

    Every instance is checked against the node's GPU model: profile name and ID, legal start,
    span, and the layout rules; problems name the capture file and line.
    """
    issues: list[InputIssue] = []
    gpus: list[dict] = []
    known = sorted(n.node for n in inventory.nodes)
    for node_name, source in captures.items():
        label = source_label(source, node_name)
        info = inventory.node(node_name)
        if info is None:
            msg = f"no node {node_name!r} in the inventory (file names must be node names: {known})"
            issues.append(InputIssue(label, None, None, msg))
            continue
        try:
            rows = parse_lgi(source, label)
        except InputError as exc:
            issues.extend(exc.issues)
            continue
        model = catalog.model(info.gpu_model)
        by_device: dict[int, list[LgiRow]] = {}
        for row in rows:
            by_device.setdefault(row.gpu, []).append(row)
        for device, device_rows in sorted(by_device.items()):
            if device >= info.gpus:
                msg = f"GPU {device}: node {node_name} has {info.gpus} GPUs (0..{info.gpus - 1})"
                issues.append(InputIssue(label, device_rows[0].line, None, msg))
                continue
            row_issues = _check_rows(label, device_rows, model, info.gpu_model)
            if row_issues:
                issues.extend(row_issues)
                continue
            violations = layout_violations(model, [(r.profile, r.start) for r in device_rows])
            if violations:
                msg = f"GPU {device}: not a valid {info.gpu_model} layout: {'; '.join(violations)}"
                issues.append(InputIssue(label, device_rows[0].line, None, msg))
                continue
            pool, index = inventory.gpu_index(node_name, device)
            instances = [
                {"profile": r.profile, "start": r.start, "workload": None, "replica": None}
                for r in sorted(device_rows, key=lambda r: r.start)
            ]
            gpus.append(
                {"pool": pool, "index": index, "gpu_model": info.gpu_model, "instances": instances}
            )
    if issues:
        raise InputError(issues)
    gpus.sort(key=lambda g: (g["pool"], g["index"]))
    return {"gpus": gpus}


def _check_rows(label: str, rows: list[LgiRow], model, model_key: str) -> list[InputIssue]:
    issues: list[InputIssue] = []
    for row in rows:
        profile = model.profile_by_name.get(row.profile)
        if profile is None:
            known = ", ".join(model.profile_by_name)
            msg = f"profile {row.profile} does not exist on {model_key} ({known})"
            issues.append(InputIssue(label, row.line, None, msg))
            continue
        if profile.id != row.profile_id:
            msg = (
                f"{row.profile} has profile ID {row.profile_id} here but {profile.id} in the "
                f"catalog's {model_key}: is this node's GPU model right?"
            )
            issues.append(InputIssue(label, row.line, None, msg))
        if profile.span != row.size:
            msg = f"{row.profile} spans {row.size} here but {profile.span} in the catalog"
            issues.append(InputIssue(label, row.line, None, msg))
    return issues


def read_lgi_files(paths: list[str | Path], inventory: NodeInventory, catalog: Catalog) -> dict:
    """`current_state` of capture files, each named after its node."""
    captures: dict[str, Source] = {}
    issues: list[InputIssue] = []
    for path in map(Path, paths):
        node = node_name_of(path)
        if node in captures:
            issues.append(InputIssue(path.name, None, None, f"a second capture for node {node}"))
        captures[node] = path
    if issues:
        raise InputError(issues)
    return current_state(captures, inventory, catalog)


def current_state_json(state: dict) -> str:
    return json.dumps(state, indent=1) + "\n"

"""mig-parted configs: read them (plain `version: v1` YAML or the GPU Operator ConfigMap that
wraps one) and check whether each entry's profile multiset can be placed on a GPU model at all.

mig-parted configs carry profile counts, no start slots; mig-parted itself tries orderings until
the driver accepts one (NVIDIA/mig-parted#100). `check_config` answers up front, by searching
legal start slots with the catalog's rules, and names a placeable alternative when the answer is
no. Schema: mig-parted `api/spec/v1` (version, mig-configs, device-filter, devices, mig-enabled,
mig-devices).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from recommender.catalog import Catalog, GpuModel
from recommender.cluster.nodes import NodeInventory
from recommender.errors import InputError, InputIssue
from recommender.layouts import Layout, Placement, dominating_match, enumerate_layouts, find_layout
from recommender.reading.source import LineMap, Source, parse_yaml_lines, source_label
from recommender.rules import layout_label

EXPECTED = "a mig-parted config (`version: v1` with `mig-configs`) or a ConfigMap holding one"
CONFIGMAP_KEY = "config.yaml"
ENTRY_KEYS = {"device-filter", "devices", "mig-enabled", "mig-devices"}


@dataclass(frozen=True)
class MigConfigEntry:
    """One device entry of a named config."""

    config: str
    index: int
    devices: Literal["all"] | tuple[int, ...]
    mig_enabled: bool
    mig_devices: dict[str, int]
    device_filter: tuple[str, ...] | None = None
    line: int | None = None


@dataclass(frozen=True)
class MigPartedConfig:
    """A validated mig-parted v1 config; `label` names the file it came from."""

    label: str
    configs: dict[str, tuple[MigConfigEntry, ...]]

    def to_document(self) -> dict[str, Any]:
        """The config as mig-parted's YAML document (for re-export)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, entries in self.configs.items():
            out[name] = []
            for e in entries:
                item: dict[str, Any] = {}
                if e.device_filter is not None:
                    item["device-filter"] = list(e.device_filter)
                item["devices"] = e.devices if e.devices == "all" else list(e.devices)
                item["mig-enabled"] = e.mig_enabled
                if e.mig_enabled:
                    item["mig-devices"] = dict(e.mig_devices)
                out[name].append(item)
        return {"version": "v1", "mig-configs": out}


def read_mig_parted(source: Source, label: str | None = None) -> MigPartedConfig:
    """A mig-parted config from a plain v1 file or a GPU Operator ConfigMap (`data.config.yaml`)."""
    name = label or source_label(source, "mig-parted.yaml")
    document, lines = parse_yaml_lines(source, name, EXPECTED)
    if isinstance(document, dict) and document.get("kind") == "ConfigMap":
        data = document.get("data")
        if not isinstance(data, dict) or not isinstance(data.get(CONFIGMAP_KEY), str):
            keys = sorted(data) if isinstance(data, dict) else []
            msg = f"ConfigMap has no data.{CONFIGMAP_KEY} text (its data keys: {keys})"
            raise InputError.single(name, msg, lines.line("data"))
        # A block scalar's text starts on the line after its key.
        offset = lines.line("data", CONFIGMAP_KEY) or 0
        inner = data[CONFIGMAP_KEY].encode()
        document, lines = parse_yaml_lines(inner, name, EXPECTED, line_offset=offset)
    return _validate(document, lines, name)


def _validate(document: Any, lines: LineMap, name: str) -> MigPartedConfig:
    if not isinstance(document, dict):
        raise InputError.single(
            name, f"expected a mapping, got {type(document).__name__} ({EXPECTED})"
        )
    issues: list[InputIssue] = []
    version = document.get("version")
    if version != "v1":
        msg = f"version is {version!r}; mig-parted configs have `version: v1`"
        issues.append(InputIssue(name, lines.line("version"), "version", msg))
    unknown = sorted(set(document) - {"version", "mig-configs"})
    if unknown:
        msg = f"unknown keys {unknown} (allowed: version, mig-configs)"
        issues.append(InputIssue(name, lines.line(unknown[0]), None, msg))
    configs_doc = document.get("mig-configs")
    if not isinstance(configs_doc, dict) or not configs_doc:
        msg = "`mig-configs` must map config names to lists of device entries"
        issues.append(InputIssue(name, lines.line("mig-configs"), "mig-configs", msg))
        raise InputError(issues)
    configs: dict[str, tuple[MigConfigEntry, ...]] = {}
    for config_name, entries in configs_doc.items():
        path = ("mig-configs", config_name)
        if not isinstance(entries, list) or not entries:
            msg = "must be a non-empty list of device entries"
            issues.append(InputIssue(name, lines.line(*path), str(config_name), msg))
            continue
        parsed = []
        for index, entry in enumerate(entries):
            result = _entry(str(config_name), index, entry, lines, name)
            if isinstance(result, MigConfigEntry):
                parsed.append(result)
            else:
                issues.extend(result)
        configs[str(config_name)] = tuple(parsed)
    if issues:
        raise InputError(issues)
    return MigPartedConfig(name, configs)


def _entry(
    config: str, index: int, entry: Any, lines: LineMap, name: str
) -> MigConfigEntry | list[InputIssue]:
    path = ("mig-configs", config, index)
    where = f"{config}[{index}]"
    line = lines.line(*path)
    if not isinstance(entry, dict):
        return [InputIssue(name, line, where, "a device entry must be a mapping")]
    issues: list[InputIssue] = []

    def problem(key: str, message: str) -> None:
        issues.append(InputIssue(name, lines.line(*path, key), f"{where}.{key}", message))

    for key in sorted(set(entry) - ENTRY_KEYS):
        problem(key, f"unknown key (allowed: {', '.join(sorted(ENTRY_KEYS))})")
    device_filter: tuple[str, ...] | None = None
    if "device-filter" in entry:
        raw = entry["device-filter"]
        raw_list = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw_list, list) or not all(isinstance(d, str) for d in raw_list):
            problem("device-filter", "must be a PCI device ID or a list of them (e.g. 0x20B010DE)")
        else:
            device_filter = tuple(raw_list)
    devices = entry.get("devices")
    if devices == "all":
        parsed_devices: Literal["all"] | tuple[int, ...] = "all"
    elif (
        isinstance(devices, list)
        and devices
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in devices)
    ):
        parsed_devices = tuple(devices)
    else:
        problem("devices", f"{devices!r}: must be `all` or a list of GPU indices, e.g. [0, 1]")
        parsed_devices = "all"
    enabled = entry.get("mig-enabled")
    if not isinstance(enabled, bool):
        problem("mig-enabled", f"{enabled!r}: must be true or false")
        enabled = False
    mig_devices = entry.get("mig-devices")
    counts: dict[str, int] = {}
    if enabled:
        if mig_devices is None:
            mig_devices = {}
        if not isinstance(mig_devices, dict):
            problem("mig-devices", 'must map profile names to counts, e.g. {"1g.5gb": 7}')
        else:
            for profile, count in mig_devices.items():
                if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                    problem("mig-devices", f"{profile}: count {count!r} is not an integer >= 0")
                    continue
                if count:
                    counts[str(profile)] = count
    elif mig_devices:
        problem("mig-devices", "must be empty when mig-enabled is false")
    if issues:
        return issues
    return MigConfigEntry(config, index, parsed_devices, enabled, counts, device_filter, line)


def read_mig_parted_file(path: str | Path) -> MigPartedConfig:
    file = Path(path)
    return read_mig_parted(file, file.name)


# --- check-config ------------------------------------------------------------------------------

Verdict = Literal["placeable", "not placeable", "mig disabled", "other GPU"]


@dataclass(frozen=True)
class EntryCheck:
    """The answer for one device entry of one config."""

    entry: MigConfigEntry
    verdict: Verdict
    placement: tuple[tuple[str, int], ...] = ()
    reasons: tuple[str, ...] = ()
    alternative: dict[str, int] | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.verdict != "not placeable"


@dataclass(frozen=True)
class ConfigCheck:
    label: str
    model_key: str
    checks: tuple[EntryCheck, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def exit_code(self) -> int:
        """0 when every entry is placeable (or not for this GPU), 1 otherwise."""
        return 0 if self.ok else 1

    def report(self) -> str:
        """What the CLI prints: one line per entry, then why and an alternative for failures."""
        lines = []
        for check in self.checks:
            entry = check.entry
            where = f"{self.label}:{entry.line}" if entry.line else self.label
            head = f"{where}: {entry.config}[{entry.index}]"
            if check.verdict == "placeable":
                placed = ", ".join(f"{p}@{s}" for p, s in check.placement) or "no instances"
                lines.append(f"{head}: placeable on {self.model_key} ({placed})")
            elif check.verdict in ("mig disabled", "other GPU"):
                lines.append(f"{head}: {check.verdict}; {'; '.join(check.notes)}")
            else:
                lines.append(f"{head}: NOT placeable on {self.model_key}")
                lines.extend(f"    why: {reason}" for reason in check.reasons)
                if check.alternative:
                    counts = ", ".join(f'"{p}": {n}' for p, n in check.alternative.items())
                    lines.append(f"    placeable instead: {{{counts}}}")
            if check.verdict in ("placeable", "not placeable"):
                lines.extend(f"    note: {note}" for note in check.notes)
        failed = sum(not c.ok for c in self.checks)
        lines.append(
            f"{len(self.checks)} entries checked against {self.model_key}: "
            + ("all placeable" if not failed else f"{failed} not placeable")
        )
        return "\n".join(lines) + "\n"


def check_config(
    config: MigPartedConfig, model_key: str, model: GpuModel, config_name: str | None = None
) -> ConfigCheck:
    """Whether every entry (of `config_name`, or of every config) can be placed on `model`."""
    if config_name is not None and config_name not in config.configs:
        names = ", ".join(config.configs)
        raise InputError.single(config.label, f"no config named {config_name!r} (configs: {names})")
    names = [config_name] if config_name is not None else list(config.configs)
    checks = [
        check_entry(entry, model_key, model) for name in names for entry in config.configs[name]
    ]
    return ConfigCheck(config.label, model_key, tuple(checks))


def check_entry(entry: MigConfigEntry, model_key: str, model: GpuModel) -> EntryCheck:
    notes: list[str] = []
    if entry.device_filter is not None:
        wanted = {d.casefold() for d in entry.device_filter}
        own = {d.casefold() for d in model.pci_device_ids}
        if own and not wanted & own:
            note = (
                f"device-filter {list(entry.device_filter)} does not select {model_key} "
                f"(PCI IDs {model.pci_device_ids})"
            )
            return EntryCheck(entry, "other GPU", notes=(note,))
        if not own:
            notes.append(f"{model_key} has no PCI IDs in the catalog; device-filter not checked")
    if not entry.mig_enabled:
        return EntryCheck(entry, "mig disabled", notes=("nothing to place", *notes))
    names = [name for name, count in entry.mig_devices.items() for _ in range(count)]
    if not names:
        return EntryCheck(entry, "placeable", notes=("MIG enabled with no instances", *notes))
    unknown = sorted({n for n in names if n not in model.profile_by_name})
    known = [n for n in names if n in model.profile_by_name]
    reasons: list[str] = []
    for name in unknown:
        reasons.append(_unknown_profile_reason(name, model_key, model))
    if not unknown:
        layout = find_layout(model, names)
        if layout is not None:
            placement = tuple(
                (p.profile, p.start)
                for p in sorted(layout.placements, key=lambda p: (p.start, p.profile))
            )
            return EntryCheck(entry, "placeable", placement, notes=tuple(notes))
        reasons.extend(why_not_placeable(model, names))
    alternative = nearest_placeable(model, known)
    if alternative is None and model.all_balanced:
        alternative = dict(model.all_balanced)
        notes.append(f"alternative is {model_key}'s all-balanced layout")
    return EntryCheck(entry, "not placeable", (), tuple(reasons), alternative, tuple(notes))


def _unknown_profile_reason(name: str, model_key: str, model: GpuModel) -> str:
    if name.count(".") >= 2 and name.split(".", 1)[0].endswith("c"):
        return (
            f"{name} is a compute-instance profile; only GPU-instance profiles are checked "
            f"(profiles of {model_key}: {', '.join(model.profile_by_name)})"
        )
    return (
        f"profile {name} does not exist on {model_key} "
        f"(its profiles: {', '.join(model.profile_by_name)})"
    )


def why_not_placeable(model: GpuModel, names: list[str]) -> list[str]:
    """The rules a profile multiset breaks on `model`, most basic first."""
    profiles = [model.profile(n) for n in names]
    reasons: list[str] = []
    for name, count in Counter(names).items():
        limit = model.profile(name).max_count
        if count > limit:
            reasons.append(f"{count} x {name}, at most {limit} per GPU")
    span = sum(p.span for p in profiles)
    if span > model.placement_units:
        reasons.append(f"they need {span} memory-slice units, the GPU has {model.placement_units}")
    compute = sum(p.compute_slices for p in profiles)
    if compute > model.compute_slices:
        reasons.append(f"they need {compute} compute slices, the GPU has {model.compute_slices}")
    if len(profiles) > model.max_instances:
        reasons.append(f"{len(profiles)} instances, at most {model.max_instances} per GPU")
    if sum(p.has_me for p in profiles) > 1:
        reasons.append("more than one +me instance (a GPU has one set of media extensions)")
    if any(p.has_me_all for p in profiles) and (
        sum(p.has_me_all for p in profiles) > 1
        or any(not p.has_me_all and not p.no_me for p in profiles)
    ):
        reasons.append("a +me.all instance allows only -me instances beside it")
    if not reasons:
        starts = "; ".join(
            f"{p.name} starts {p.starts} span {p.span}"
            for p in sorted(set(profiles), key=lambda p: (-p.span, p.name))
        )
        reasons.append(
            f"each fits alone, but no choice of legal start slots fits them together ({starts})"
        )
    return reasons


def nearest_placeable(model: GpuModel, names: list[str]) -> dict[str, int] | None:
    """The placeable multiset closest to `names` by dropping or shrinking instances.

    Closest: most instances kept as asked, then most memory, then most compute, then most
    instances. Every instance of the answer is no bigger (memory, compute, media) than the one
    it replaces.
    """
    if not names:
        return None
    asked = Layout(tuple(Placement(i, name) for i, name in enumerate(names)))
    asked_counts = Counter(names)
    best: tuple[tuple[int, int, int, int], Layout] | None = None
    for layout in enumerate_layouts(model):
        if len(layout.placements) > len(names):
            continue
        if dominating_match(model, asked, layout) is None:
            continue
        counts = Counter(p.profile for p in layout.placements)
        kept = sum(min(count, asked_counts[name]) for name, count in counts.items())
        profiles = [model.profile(p.profile) for p in layout.placements]
        score = (
            kept,
            sum(p.memory_mib for p in profiles),
            sum(p.compute_slices for p in profiles),
            len(profiles),
        )
        if best is None or score > best[0]:
            best = (score, layout)
    if best is None:
        return None
    ordered = layout_label(model, [p.profile for p in best[1].placements]).split(" | ")
    return dict(Counter(ordered))


# --- the current state from the config in use --------------------------------------------------


def entries_for_device(
    entries: tuple[MigConfigEntry, ...], device: int, model: GpuModel
) -> list[MigConfigEntry]:
    """The entries of one config that apply to `device` of a GPU of `model` (mig-parted applies
    every entry whose `devices` and `device-filter` select the device)."""
    own = {d.casefold() for d in model.pci_device_ids}
    chosen = []
    for entry in entries:
        if entry.devices != "all" and device not in entry.devices:
            continue
        filtered = entry.device_filter is not None and own
        if filtered and not {d.casefold() for d in entry.device_filter or ()} & own:
            continue
        chosen.append(entry)
    return chosen


def current_from_config(
    config: MigPartedConfig,
    config_labels: dict[str, str | None],
    inventory: NodeInventory,
    catalog: Catalog,
    nodes_label: str = "nodes.json",
) -> tuple[dict, list[str]]:
    """`{"gpus": [...]}`: the instances each node runs now, from the config its
    `nvidia.com/mig.config` label names (`config_labels`: node -> label, from `kubectl get
    nodes`), and notes.

    mig-parted configs carry profile counts, no start slots: every GPU is written with starts of
    a valid layout for its counts (`layouts.find_layout`) and `"compare": "counts"`, so a re-plan
    counts it as kept when the plan gives it the same counts (mig-parted's own rule). Running
    replicas are not known from a config: every instance is a spare (workload null).
    """
    issues: list[InputIssue] = []
    notes: list[str] = []
    gpus: list[dict] = []
    for info in inventory.nodes:
        if info.node not in config_labels:
            notes.append(f"node {info.node}: not in {nodes_label}; no current layout")
            continue
        name = config_labels[info.node]
        if not name:
            notes.append(f"node {info.node}: no nvidia.com/mig.config label; no current layout")
            continue
        entries = config.configs.get(name)
        if entries is None:
            message = (
                f"node {info.node} is labelled nvidia.com/mig.config={name}, which "
                f"{config.label} does not define (configs: {', '.join(config.configs)})"
            )
            issues.append(InputIssue(nodes_label, None, None, message))
            continue
        model = catalog.model(info.gpu_model)
        for device in range(info.gpus):
            names: list[str] = []
            for entry in entries_for_device(entries, device, model):
                if entry.mig_enabled:
                    names += [p for p, count in entry.mig_devices.items() for _ in range(count)]
            if not names:
                continue
            where = f"{config.label}:{entries[0].line}" if entries[0].line else config.label
            unknown = sorted({n for n in names if n not in model.profile_by_name})
            if unknown:
                message = (
                    f"config {name} (node {info.node} device {device}): profiles {unknown} do "
                    f"not exist on {info.gpu_model}"
                )
                issues.append(InputIssue(where, None, None, message))
                continue
            layout = find_layout(model, names)
            if layout is None:
                message = (
                    f"config {name} (node {info.node} device {device}) cannot be placed on "
                    f"{info.gpu_model}; `check-config` says why"
                )
                issues.append(InputIssue(where, None, None, message))
                continue
            pool, index = inventory.gpu_index(info.node, device)
            instances = [
                {"profile": p.profile, "start": p.start, "workload": None, "replica": None}
                for p in sorted(layout.placements, key=lambda p: p.start)
            ]
            gpus.append(
                {
                    "pool": pool,
                    "index": index,
                    "gpu_model": info.gpu_model,
                    "compare": "counts",
                    "instances": instances,
                }
            )
    if issues:
        raise InputError(issues)
    gpus.sort(key=lambda g: (g["pool"], g["index"]))
    return {"gpus": gpus}, notes

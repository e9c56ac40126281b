"""A new catalog entry from the machine itself: `nvidia-smi mig -lgip` and `-lgipp` captures.

`-lgip` gives each GPU-instance profile's name, ID, instance count and usable memory; `-lgipp`
gives its legal placements `{start,...}:size` on the memory-slice axis. Together they are
everything the catalog needs, so a GPU generation works the day it is racked.

`-lgip` prints memory in GiB with two decimals. The driver's sizes are whole multiples of 16 MiB
(every size we have seen is), so the MiB figure is the multiple of 16 MiB that prints as the
shown value; when none does, the value times 1024, rounded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from recommender.catalog import Attribute, GpuModel, Profile
from recommender.errors import InputError, InputIssue
from recommender.reading.source import Source, read_text, source_label

LGIP_EXPECTED = "the output of `nvidia-smi mig -lgip`"
LGIPP_EXPECTED = "the output of `nvidia-smi mig -lgipp`"

PROFILE_NAME = re.compile(r"^(?P<g>\d+)g\.(?P<gb>\d+)gb(?P<suffix>\+me\.all|\+me|\+gfx|-me)?$")
SUFFIX_ATTRIBUTE: dict[str, Attribute] = {
    "+me": "me",
    "+me.all": "me.all",
    "-me": "-me",
    "+gfx": "gfx",
}
# `|   0  MIG 1g.5gb        19     7/7        4.75       No     14     0     0   |`
_LGIP_ROW = re.compile(
    r"^\|\s*(?P<gpu>\d+)\s+MIG\s+(?P<name>\S+)\s+(?P<id>\d+)\s+(?P<free>\d+)/(?P<total>\d+)\s+"
    r"(?P<memory>\d+(?:\.\d+)?)\s+(?P<p2p>\S+)\s+(?P<numbers>(?:\d+\s+)*\d+)\s*\|?\s*$"
)
# The second row of the two-row layout: `|      1     0     0   |` (CE, JPEG, OFA).
_LGIP_SECOND_ROW = re.compile(r"^\|\s+(?P<numbers>(?:\d+\s+)*\d+)\s*\|?\s*$")
_LGIPP_ROW = re.compile(
    r"^GPU\s+(?P<gpu>\d+)\s+Profile\s+ID\s+(?P<id>\d+)\s+Placements?\s*:\s*"
    r"\{(?P<starts>[\d,\s]*)\}\s*:\s*(?P<size>\d+)\s*$"
)
# A border line of an nvidia-smi table (`+----+`, `|====|`), in every `mig -l...` listing.
TABLE_BORDER = re.compile(r"^[+|][-=+|\s]*$")


@dataclass(frozen=True)
class LgipRow:
    """One profile of one GPU as `-lgip` prints it."""

    gpu: int
    name: str
    profile_id: int
    instances_total: int
    memory_mib: int
    memory_gib_printed: str
    sm: int | None
    engines: dict[str, int]
    line: int


@dataclass(frozen=True)
class LgippRow:
    """One profile's legal placements on one GPU as `-lgipp` prints them."""

    gpu: int
    profile_id: int
    starts: tuple[int, ...]
    size: int
    line: int


def gib_to_mib(printed: str) -> int:
    """MiB of a size `-lgip` printed in GiB with two decimals (see the module docstring)."""
    value = float(printed)
    step = 16
    nearest = round(value * 1024 / step) * step
    if f"{nearest / 1024:.2f}" == f"{value:.2f}":
        return nearest
    return round(value * 1024)


def _wrong_table(text: str) -> str | None:
    """What other `nvidia-smi mig` table this is, if it is one."""
    if "GPU instances:" in text:
        return "`nvidia-smi mig -lgi` output (GPU instances)"
    if "Compute instance profiles:" in text:
        return "`nvidia-smi mig -lcip` output (compute-instance profiles)"
    if "Compute instances:" in text:
        return "`nvidia-smi mig -lci` output (compute instances)"
    if "GPU instance profiles:" in text:
        return "`nvidia-smi mig -lgip` output (GPU-instance profiles)"
    if re.search(r"Profile\s+ID\s+\d+\s+Placements?\s*:", text):
        return "`nvidia-smi mig -lgipp` output (placements)"
    return None


def parse_lgip(source: Source, label: str | None = None) -> list[LgipRow]:
    """Every profile row of a `-lgip` capture (single-row or two-row table layout)."""
    name = label or source_label(source, "lgip.txt")
    text = read_text(source, name, LGIP_EXPECTED)
    if "GPU instance profiles:" not in text:
        other = _wrong_table(text)
        if other:
            raise InputError.single(name, f"this is {other}, expected {LGIP_EXPECTED}")
        if "No MIG-enabled devices found" in text:
            raise InputError.single(
                name, "the capture says `No MIG-enabled devices found`: enable MIG first"
            )
        raise InputError.single(
            name, f"no `GPU instance profiles:` table (expected {LGIP_EXPECTED})"
        )
    lines = text.splitlines()
    memory_in_mib = any(re.search(r"\bMiB\b", line) for line in lines[:8])
    two_rows = any(re.search(r"\bCE\b.*\bJPEG\b.*\bOFA\b", line) for line in lines[:8])
    rows: list[LgipRow] = []
    issues: list[InputIssue] = []
    pending: dict | None = None
    rejected = False
    in_table = False
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if "GPU instance profiles:" in line:
            in_table = True
            continue
        if not in_table or not line.strip():
            continue
        if line.lstrip().startswith("|=") or TABLE_BORDER.match(line.strip()):
            if pending is not None and two_rows:
                issues.append(_truncated(name, pending))
                pending = None
            continue
        if re.search(r"\bGPU\s+Name\b|Free/Total|\bCE\b\s+JPEG", line):
            continue
        match = _LGIP_ROW.match(line.strip())
        if match:
            if pending is not None and two_rows:
                issues.append(_truncated(name, pending))
            pending = None
            row = _profile_row(match, number, memory_in_mib, name, issues)
            rejected = row is None
            if row is None:
                continue
            if two_rows:
                pending = row
            else:
                rows.append(_lgip_row(row, []))
            continue
        second = _LGIP_SECOND_ROW.match(line.strip())
        if second and pending is None and rejected:
            rejected = False  # the second row of a row already reported
            continue
        if second and pending is not None:
            rows.append(_lgip_row(pending, [int(n) for n in second["numbers"].split()]))
            pending = None
            continue
        issues.append(
            InputIssue(name, number, None, f"not a row of the `-lgip` table: {line.strip()[:80]!r}")
        )
    if pending is not None and two_rows:
        issues.append(_truncated(name, pending))
    if issues:
        raise InputError(issues)
    if not rows:
        msg = f"the `GPU instance profiles:` table has no profile rows ({LGIP_EXPECTED})"
        raise InputError.single(name, msg)
    return rows


def _truncated(label: str, pending: dict) -> InputIssue:
    msg = (
        f"profile {pending['name']} has no second row (CE/JPEG/OFA): the capture looks "
        "truncated or edited"
    )
    return InputIssue(label, pending["line"], None, msg)


def _profile_row(
    match: re.Match[str], number: int, memory_in_mib: bool, label: str, issues: list[InputIssue]
) -> dict | None:
    profile = match["name"]
    if not PROFILE_NAME.match(profile):
        msg = (
            f"unknown profile name {profile!r} (expected <g>g.<gb>gb with an optional "
            "+me, +me.all, -me or +gfx suffix)"
        )
        issues.append(InputIssue(label, number, None, msg))
        return None
    memory = match["memory"]
    memory_mib = round(float(memory)) if memory_in_mib else gib_to_mib(memory)
    if memory_mib <= 0 or int(match["total"]) <= 0:
        issues.append(InputIssue(label, number, None, f"profile {profile}: no memory or instances"))
        return None
    return {
        "gpu": int(match["gpu"]),
        "name": profile,
        "id": int(match["id"]),
        "total": int(match["total"]),
        "memory_mib": memory_mib,
        "memory": memory,
        "numbers": [int(n) for n in match["numbers"].split()],
        "line": number,
    }


def _lgip_row(row: dict, second: list[int]) -> LgipRow:
    first = row["numbers"]
    engines: dict[str, int] = {}
    for key, value in zip(("dec", "enc"), first[1:3], strict=False):
        engines[key] = value
    for key, value in zip(("ce", "jpeg", "ofa"), second or first[3:6], strict=False):
        engines[key] = value
    return LgipRow(
        gpu=row["gpu"],
        name=row["name"],
        profile_id=row["id"],
        instances_total=row["total"],
        memory_mib=row["memory_mib"],
        memory_gib_printed=row["memory"],
        sm=first[0] if first else None,
        engines=engines,
        line=row["line"],
    )


def parse_lgipp(source: Source, label: str | None = None) -> list[LgippRow]:
    """Every placement line of a `-lgipp` capture (`Placements:` and `Placement :` alike)."""
    name = label or source_label(source, "lgipp.txt")
    text = read_text(source, name, LGIPP_EXPECTED)
    rows: list[LgippRow] = []
    issues: list[InputIssue] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("$", "#")):
            continue
        match = _LGIPP_ROW.match(line)
        if match is None:
            if not rows and not issues:
                other = _wrong_table(text)
                if other and "placements" not in other:
                    raise InputError.single(
                        name, f"this is {other}, expected {LGIPP_EXPECTED}", number
                    )
            msg = (
                f"not a placement line: {line[:80]!r} (expected "
                "`GPU 0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1`)"
            )
            issues.append(InputIssue(name, number, None, msg))
            continue
        starts_text = match["starts"].replace(" ", "")
        try:
            starts = tuple(int(s) for s in starts_text.split(",")) if starts_text else ()
        except ValueError:
            issues.append(InputIssue(name, number, None, f"bad start list {{{starts_text}}}"))
            continue
        size = int(match["size"])
        if not starts or size <= 0 or len(set(starts)) != len(starts):
            msg = "a placement needs distinct start slots and a positive size"
            issues.append(InputIssue(name, number, None, msg))
            continue
        rows.append(LgippRow(int(match["gpu"]), int(match["id"]), starts, size, number))
    if issues:
        raise InputError(issues)
    if not rows:
        raise InputError.single(name, f"no placement lines ({LGIPP_EXPECTED})")
    return rows


@dataclass(frozen=True)
class ImportedModel:
    """A catalog entry built from captures, and what the reader noticed on the way."""

    key: str
    model: GpuModel
    notes: tuple[str, ...]

    def catalog_json(self) -> str:
        """A catalog file (same schema as data/mig_catalog.json) holding just this model."""
        document = {
            "schema_version": 1,
            "description": "MIG catalog entry imported from nvidia-smi mig -lgip/-lgipp captures",
            "models": {self.key: self.model.model_dump(mode="json")},
        }
        return json.dumps(document, indent=1) + "\n"


def import_model(
    lgip: Source,
    lgipp: Source,
    model_key: str,
    *,
    lgip_label: str | None = None,
    lgipp_label: str | None = None,
    gpu: int | None = None,
    aliases: tuple[str, ...] = (),
) -> ImportedModel:
    """A catalog entry for `model_key` from one GPU's `-lgip` and `-lgipp` captures.

    `gpu` picks the GPU index in the captures (the lowest one by default). Placements for a
    profile ID that `-lgip` does not list are left out with a note (the two captures came from
    different drivers); an `-lgip` profile without placements is an error.
    """
    lgip_name = lgip_label or source_label(lgip, "lgip.txt")
    lgipp_name = lgipp_label or source_label(lgipp, "lgipp.txt")
    if not model_key.strip():
        raise InputError.single("--model", "the model needs a name, e.g. H100-80GB")
    profiles_rows = parse_lgip(lgip, lgip_name)
    placement_rows = parse_lgipp(lgipp, lgipp_name)
    notes: list[str] = []
    chosen = gpu if gpu is not None else min(r.gpu for r in profiles_rows)
    gpus_seen = sorted({r.gpu for r in profiles_rows})
    if chosen not in gpus_seen:
        raise InputError.single(
            lgip_name, f"no rows for GPU {chosen} (GPUs in the capture: {gpus_seen})"
        )
    if len(gpus_seen) > 1:
        notes.append(f"{lgip_name}: GPUs {gpus_seen} captured; GPU {chosen} used")
    rows = [r for r in profiles_rows if r.gpu == chosen]
    placements = {r.profile_id: r for r in placement_rows if r.gpu == chosen}
    if not placements:
        found = sorted({r.gpu for r in placement_rows})
        raise InputError.single(
            lgipp_name, f"no placements for GPU {chosen} (GPUs in the capture: {found})"
        )
    issues: list[InputIssue] = []
    seen: dict[int, LgipRow] = {}
    for row in rows:
        if row.profile_id in seen and seen[row.profile_id].name != row.name:
            other = seen[row.profile_id].name
            msg = f"profile ID {row.profile_id} names both {other} and {row.name}"
            issues.append(InputIssue(lgip_name, row.line, None, msg))
        seen[row.profile_id] = row
        if row.profile_id not in placements:
            msg = (
                f"profile {row.name} (ID {row.profile_id}) has no placements in {lgipp_name}: "
                "capture both with the same driver, from the same GPU"
            )
            issues.append(InputIssue(lgip_name, row.line, None, msg))
    if issues:
        raise InputError(issues)
    unlisted = sorted(set(placements) - set(seen))
    if unlisted:
        notes.append(
            f"{lgipp_name}: placements of profile IDs {unlisted} left out: {lgip_name} does not "
            "list them (captures from different drivers?)"
        )
    model = _build_model(model_key, list(seen.values()), placements, lgip_name, lgipp_name, aliases)
    return ImportedModel(model_key, model, tuple(notes))


def _build_model(
    key: str,
    rows: list[LgipRow],
    placements: dict[int, LgippRow],
    lgip_name: str,
    lgipp_name: str,
    aliases: tuple[str, ...],
) -> GpuModel:
    units = max(
        max(p.starts) + p.size
        for p in placements.values()
        if p.profile_id in {r.profile_id for r in rows}
    )
    smallest_span = min(placements[r.profile_id].size for r in rows)
    profiles: list[Profile] = []
    for row in rows:
        match = PROFILE_NAME.match(row.name)
        assert match is not None  # parse_lgip checked the name
        place = placements[row.profile_id]
        suffix = match["suffix"]
        profiles.append(
            Profile(
                name=row.name,
                id=row.profile_id,
                compute_slices=int(match["g"]),
                memory_slices=max(1, place.size // smallest_span),
                span=place.size,
                starts=sorted(place.starts),
                max_count=row.instances_total,
                memory_mib=row.memory_mib,
                memory_source=f"lgip {row.memory_gib_printed} GiB ({lgip_name}:{row.line})",
                attributes=[SUFFIX_ATTRIBUTE[suffix]] if suffix else [],
            )
        )
    profiles.sort(key=lambda p: (p.span, p.compute_slices, len(p.attributes), p.name))
    full = [p for p in profiles if p.span == units]
    memory_gb = max(
        (int(PROFILE_NAME.match(p.name)["gb"]) for p in full),  # type: ignore[index]
        default=round(max(p.memory_mib for p in profiles) / 1024),
    )
    try:
        return GpuModel(
            aliases=list(aliases),
            compute_slices=max(p.compute_slices for p in profiles),
            memory_slices=max(1, units // smallest_span),
            placement_units=units,
            memory_gb=memory_gb,
            max_instances=max(p.max_count for p in profiles),
            sources=[f"nvidia-smi mig -lgip ({lgip_name}) and -lgipp ({lgipp_name})"],
            profiles=profiles,
        )
    except ValidationError as exc:
        issues = [InputIssue(lgip_name, None, None, err["msg"]) for err in exc.errors()]
        raise InputError(issues) from None


def import_model_files(
    lgip_path: str | Path, lgipp_path: str | Path, model_key: str, gpu: int | None = None
) -> ImportedModel:
    """`import_model` on two files, labelled by their names."""
    lgip_file, lgipp_file = Path(lgip_path), Path(lgipp_path)
    return import_model(
        lgip_file,
        lgipp_file,
        model_key,
        lgip_label=lgip_file.name,
        lgipp_label=lgipp_file.name,
        gpu=gpu,
    )

"""The MIG catalog: per GPU model, its instance profiles and their legal placements.

The catalog is data (`data/mig_catalog.json`, transcribed from the MIG rules reference with a
source per model). A user file with the same schema adds models or replaces built-in ones; both are
read by `recommender.reading.load_catalog`.
"""

from __future__ import annotations

import difflib
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BUILTIN_CATALOG_PATH = Path(__file__).parent / "data" / "mig_catalog.json"

Attribute = Literal["me", "me.all", "-me", "gfx"]


class Profile(BaseModel):
    """A GPU-instance profile, e.g. `3g.20gb` on A100-40GB."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    id: int = Field(ge=0, description="profile ID for `nvidia-smi mig -cgi`")
    compute_slices: int = Field(ge=1, le=8)
    memory_slices: int = Field(ge=1)
    span: int = Field(ge=1, description="units occupied on the -lgipp axis")
    starts: list[int] = Field(min_length=1, description="legal start units (-lgipp)")
    max_count: int = Field(ge=1)
    memory_mib: int = Field(gt=0, description="usable memory the driver reports")
    memory_source: str = ""
    attributes: list[Attribute] = Field(default_factory=list)
    min_driver: str | None = None
    inferred: bool = False

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024

    @property
    def has_me(self) -> bool:
        return "me" in self.attributes

    @property
    def has_me_all(self) -> bool:
        return "me.all" in self.attributes

    @property
    def no_me(self) -> bool:
        return "-me" in self.attributes

    @property
    def gfx(self) -> bool:
        return "gfx" in self.attributes


class GpuModel(BaseModel):
    """One MIG-capable GPU model and its placement rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aliases: list[str] = Field(default_factory=list)
    pci_device_ids: list[str] = Field(default_factory=list)
    compute_slices: int = Field(ge=1)
    memory_slices: int = Field(ge=1)
    placement_units: int = Field(ge=1, le=64)
    memory_gb: float = Field(gt=0)
    max_instances: int = Field(ge=1)
    all_balanced: dict[str, int] = Field(default_factory=dict)
    special_rules: list[str] = Field(default_factory=list)
    sources: list[str] = Field(min_length=1)
    profiles: list[Profile] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_profiles(self) -> GpuModel:
        names = [p.name for p in self.profiles]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate profile names: {', '.join(duplicates)}")
        for p in self.profiles:
            bad = [s for s in p.starts if s < 0 or s + p.span > self.placement_units]
            if bad:
                raise ValueError(
                    f"profile {p.name}: starts {bad} with span {p.span} leave the "
                    f"{self.placement_units}-unit axis"
                )
            if p.compute_slices > self.compute_slices:
                raise ValueError(
                    f"profile {p.name}: {p.compute_slices} compute slices, the GPU has "
                    f"{self.compute_slices}"
                )
        unknown = sorted(set(self.all_balanced) - set(names))
        if unknown:
            raise ValueError(f"all_balanced names unknown profiles: {', '.join(unknown)}")
        return self

    def profile(self, name: str) -> Profile:
        return self.profile_by_name[name]

    @cached_property
    def profile_by_name(self) -> dict[str, Profile]:
        return {p.name: p for p in self.profiles}

    def is_full_gpu(self, profile: Profile) -> bool:
        return profile.span == self.placement_units

    def media_capable(self, profile: Profile) -> bool:
        """Whether a workload that needs NVDEC/NVJPG/OFA may run on this profile.

        Only `+me`/`+me.all` profiles carry the media engines, and a full-GPU profile owns all of
        them (docs/design.md, "Placement rules"). `-me` profiles never do.
        """
        if profile.no_me:
            return False
        return profile.has_me or profile.has_me_all or self.is_full_gpu(profile)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    description: str = ""
    models: dict[str, GpuModel] = Field(min_length=1)

    @cached_property
    def _alias_to_key(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for key, model in self.models.items():
            table[key.casefold()] = key
            for alias in model.aliases:
                table.setdefault(alias.casefold(), key)
        return table

    def resolve(self, name: str) -> str | None:
        """The model key for a key or an `nvidia-smi` name (case-insensitive), else None."""
        return self._alias_to_key.get(name.strip().casefold())

    def suggest(self, name: str) -> str | None:
        """The closest model key to a misspelt name, for error messages."""
        candidates = {k.casefold(): k for k in self.models}
        candidates.update(self._alias_to_key)
        match = difflib.get_close_matches(
            name.strip().casefold(), list(candidates), n=1, cutoff=0.5
        )
        return candidates[match[0]] if match else None

    def model(self, key: str) -> GpuModel:
        return self.models[key]

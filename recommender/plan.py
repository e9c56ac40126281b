"""The plan: the JSON contract of docs/design.md §6, as pydantic models.

`status`, `cost_per_hour`, `lower_bound_per_hour`, `gpus` and `unplaced` keep their meaning
forever; `summary`, `solver` and `inputs_sha256` are extra keys the contract welcomes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["optimal", "feasible", "infeasible", "unknown"]


class PlanInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str
    start: int = Field(ge=0)
    workload: str | None = None
    replica: int | None = Field(default=None, ge=0)


class PlanGpu(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool: str
    index: int = Field(ge=0, description="0..gpus-1 within the pool")
    gpu_model: str
    instances: list[PlanInstance]


class Unplaced(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workload: str
    replicas: int = Field(ge=1)
    reason: str


class PoolSummary(BaseModel):
    """One pool's share of the plan; utilization as in `Summary`, over this pool's used GPUs."""

    pool: str
    gpu_model: str
    gpus_available: int
    gpus_used: int
    cost_per_hour: float
    # Defaults keep summaries written before these fields readable.
    compute_utilization: float = Field(
        default=0.0, description="demanded compute slices / slices of the pool's used GPUs"
    )
    memory_utilization: float = Field(
        default=0.0, description="demanded GiB / usable GiB of the pool's used GPUs"
    )


class Summary(BaseModel):
    """Numbers people read first; all derived from the plan and the inputs."""

    cost_per_hour: float
    cost_per_month: float = Field(description="cost_per_hour x 730 hours")
    lower_bound_per_hour: float
    gap: float | None = Field(description="(cost - bound) / bound; None when the bound is 0")
    gpus_used: int
    gpus_available: int
    pools: list[PoolSummary]
    replicas_total: int
    replicas_placed: int
    replicas_unplaced: int
    compute_utilization: float = Field(description="demanded compute slices / slices of used GPUs")
    memory_utilization: float = Field(description="demanded GiB / usable GiB of used GPUs")
    stranded_units: int = Field(description="axis units of used GPUs hosting no replica")
    spare_instances: int = Field(description="instances carved but hosting no replica")


class SolverStats(BaseModel):
    """What the solver did; useful to judge a plan found under a time limit."""

    formulation: str = "layout-count CP-SAT"
    wall_seconds: float = 0.0
    time_limit_seconds: float | None = None
    workers: int | None = None
    seed: int | None = None
    placement_status: Status = "unknown"
    cost_status: Status = "unknown"
    lower_bound_source: str = ""
    layouts: int = 0
    variables: int = 0
    constraints: int = 0
    notes: list[str] = Field(default_factory=list)


HOURS_PER_MONTH = 730


class Plan(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Status
    cost_per_hour: float
    lower_bound_per_hour: float
    gpus: list[PlanGpu]
    unplaced: list[Unplaced]
    summary: Summary | None = None
    solver: SolverStats | None = None
    inputs_sha256: str | None = None

    def to_json(self, indent: int | None = 1) -> str:
        return self.model_dump_json(indent=indent, exclude_none=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        return cls.model_validate_json(text)

    @classmethod
    def read(cls, path: str | Path) -> Plan:
        return cls.from_json(Path(path).read_bytes())

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

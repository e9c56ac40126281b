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
    # The measured configuration an instance serving a throughput workload runs (performance
    # table row); null for count workloads and spare instances.
    batch_size: int | None = Field(default=None, ge=1)
    processes: int | None = Field(default=None, ge=1)
    throughput_rps: float | None = Field(default=None, gt=0)


class PlanGpu(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool: str
    index: int = Field(ge=0, description="0..gpus-1 within the pool")
    gpu_model: str
    instances: list[PlanInstance]
    # Current states only: "counts" when the starts are not known (imported from a mig-parted
    # config, which has none; its starts are a valid layout picked for the counts). Such a GPU
    # is kept when the plan gives it the same profile counts, mig-parted's own rule. Absent
    # from the JSON when unset, so plans read and write as before.
    compare: Literal["counts"] | None = Field(default=None, exclude_if=lambda value: value is None)


class Unplaced(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workload: str
    replicas: int = Field(ge=1)
    reason: str
    # Throughput workloads: the rate left unserved (`replicas` is then the instances missing).
    requests_per_second: float | None = Field(default=None, ge=0)


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


class ThroughputServed(BaseModel):
    """One throughput workload in the summary: the rate asked and the rate the plan serves."""

    workload: str
    model: str
    required_rps: float
    served_rps: float
    latency_ms: float | None = None
    instances: int
    profiles: dict[str, int] = Field(description="instances per profile (the chosen mix)")


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
    throughput: list[ThroughputServed] = Field(
        default_factory=list, description="served vs required rate per throughput workload"
    )


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
    seconds: dict[str, float] = Field(
        default_factory=dict,
        description="wall seconds per part of the solve, in order: building, warm start, "
        "placement, cost, re-planning, finishing (expansion, summary)",
    )


# --- re-planning from the running fleet (docs/design.md, "The running fleet") ----------------

GpuChangeKind = Literal["re-carved", "released", "new", "temporary", "restored"]
WaveKind = Literal["carve", "drain", "moves", "cleanup"]


class InstanceSlot(BaseModel):
    """Where a replica runs: one instance of one GPU."""

    model_config = ConfigDict(extra="forbid")

    pool: str
    index: int = Field(ge=0)
    profile: str
    start: int = Field(ge=0)


class CarvedInstance(BaseModel):
    """One instance of a layout a wave gives a GPU."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    start: int = Field(ge=0)


class GpuChange(BaseModel):
    """A GPU a wave re-partitions: `instances` is the layout it has after the wave.

    `new`: a GPU hosting nothing now carved for the plan; `re-carved` / `released`: a GPU hosting
    replicas now, drained first; `temporary`: an idle GPU carved to host replicas during the
    rollout only; `restored`: such a GPU given back at the end.
    """

    model_config = ConfigDict(extra="forbid")

    pool: str
    index: int = Field(ge=0)
    node: str
    device: int = Field(ge=0)
    change: GpuChangeKind
    instances: list[CarvedInstance]


class RolloutMove(BaseModel):
    """One replica leaving `from_slot` and/or starting on `to_slot`.

    `from_slot` None: a replica started (a scale-up); `to_slot` None: a replica stopped (a
    scale-down, or a workload no longer asked for). A `temporary` replica runs on `to_slot` from
    `start_wave` to `stop_wave` (extra capacity that keeps a floor during the rollout).
    """

    model_config = ConfigDict(extra="forbid")

    workload: str
    from_slot: InstanceSlot | None = None
    to_slot: InstanceSlot | None = None
    start_wave: int | None = Field(default=None, ge=1, description="wave starting `to_slot`")
    start_before_drain: bool = Field(
        default=False,
        description="started before the wave's drain (make-before-break) rather than after its "
        "relabel",
    )
    stop_wave: int | None = Field(
        default=None, ge=1, description="wave stopping `from_slot` (temporary: `to_slot`)"
    )
    temporary: bool = False


class Wave(BaseModel):
    """One step of the rollout, in four phases: start replicas on instances that exist and are
    free; stop the replicas leaving (drain); relabel `nodes` with `node_configs` (every GPU in
    `gpus` takes its new layout); start replicas on the instances that now exist."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=1)
    kind: WaveKind
    nodes: list[str]
    node_configs: dict[str, str] = Field(description="node -> nvidia.com/mig.config value")
    gpus: list[GpuChange]
    moves: list[RolloutMove] = Field(
        description="moves whose stop (or, without one, whose start) is in this wave"
    )
    lowest_running: dict[str, int] = Field(
        default_factory=dict,
        description="per workload stopping or starting here, its running replicas after the "
        "drain (the wave's low point)",
    )


class Dip(BaseModel):
    """A workload whose floor (replicas - max_unavailable) no wave order kept."""

    model_config = ConfigDict(extra="forbid")

    workload: str
    floor: int = Field(ge=0)
    lowest: int = Field(ge=0)
    by: int = Field(ge=1, description="floor - lowest")
    waves: list[int] = Field(description="waves in which it runs below its floor")


class GpuState(BaseModel):
    """How the plan treats one GPU that hosts a replica now or is carved in the plan."""

    model_config = ConfigDict(extra="forbid")

    pool: str
    index: int = Field(ge=0)
    state: Literal["kept", "re-carved", "released", "new"]


class Transition(BaseModel):
    """From the running fleet to the plan: the diff and a make-before-break rollout."""

    model_config = ConfigDict(extra="forbid")

    current_cost_per_hour: float
    kept: int = Field(ge=0)
    recarved: int = Field(ge=0)
    released: int = Field(ge=0)
    new: int = Field(ge=0)
    moved_replicas: int = Field(ge=0)
    moved_by_workload: dict[str, int] = Field(default_factory=dict)
    nodes_touched: int = Field(ge=0)
    wave_size: int = Field(default=1, ge=1)
    # The budgets the plan was made under (None: no limit); the validator checks them.
    max_recarve: int | None = Field(default=None, ge=0)
    max_moves: int | None = Field(default=None, ge=0)
    floors: dict[str, int] = Field(
        default_factory=dict, description="per workload, the replicas that must keep running"
    )
    gpu_states: list[GpuState] = Field(default_factory=list)
    waves: list[Wave] = Field(default_factory=list)
    dips: list[Dip] = Field(default_factory=list)
    extra_gpus_needed: dict[str, int] = Field(
        default_factory=dict,
        description="per pool, the fewest extra idle GPUs found that avoid every dip",
    )
    mig_configs: dict[str, list[dict]] = Field(
        default_factory=dict,
        description="every mig-parted config a wave labels a node with: name -> entries",
    )
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
    transition: Transition | None = None

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

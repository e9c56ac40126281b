"""What the planner is asked: workloads, GPU pools, and the problem joining them (pydantic).

These models are the validated form of every input, however it was read (CSV, the page's
editors, code); `recommender/reading/` turns files into them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_COMPUTE_SLICES = 7


class Workload(BaseModel):
    """One workload: `replicas` identical replicas, each needing one MIG instance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    memory_gb: float = Field(gt=0, description="GiB of GPU memory one replica needs")
    compute_slices: int = Field(default=1, ge=1, le=MAX_COMPUTE_SLICES)
    replicas: int = Field(default=1, ge=1)
    gpu_models: tuple[str, ...] | None = Field(
        default=None, description="model keys it may run on; None means any"
    )
    priority: int = Field(default=1, ge=1)
    media: bool = False
    spread: bool = False
    max_unavailable: int = Field(
        default=1,
        ge=0,
        description="replicas that may be down at once during a rollout (like a Kubernetes "
        "PodDisruptionBudget's maxUnavailable)",
    )
    # Throughput demand (docs/design.md, "Throughput demand"): with `requests_per_second` set,
    # the planner decides how many instances of which profiles serve the rate, `replicas` is the
    # minimum number of instances, and the performance table says what one instance serves.
    requests_per_second: float | None = Field(
        default=None, gt=0, description="the rate to serve; None: a count workload"
    )
    latency_ms: float | None = Field(
        default=None, gt=0, description="latency objective a configuration must meet"
    )
    model: str | None = Field(
        default=None, min_length=1, description="performance-table model; None: the name"
    )
    line: int | None = Field(default=None, exclude=True, description="CSV line, for messages")

    @property
    def memory_mib(self) -> float:
        return self.memory_gb * 1024

    @property
    def is_throughput(self) -> bool:
        """Whether the planner sizes this workload by rate (else by replica count)."""
        return self.requests_per_second is not None

    @property
    def performance_model(self) -> str:
        """The key into the performance table: `model`, or the workload's name."""
        return self.model or self.name

    def allows(self, gpu_model: str) -> bool:
        return self.gpu_models is None or gpu_model in self.gpu_models


class Pool(BaseModel):
    """GPUs of one model with one price."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: str = Field(min_length=1)
    gpu_model: str = Field(description="catalog model key")
    gpus: int = Field(ge=0)
    cost_per_hour: float = Field(ge=0)
    gpus_per_node: int = Field(default=8, ge=1)
    line: int | None = Field(default=None, exclude=True)


class Node(BaseModel):
    """One real node of a pool (a node inventory, `import nodes --inventory`): its GPUs are the
    next `gpus` indices of its pool, in the order the nodes are listed (`recommender.locate`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str = Field(min_length=1, description="the Kubernetes node name")
    pool: str = Field(min_length=1)
    gpus: int = Field(ge=1)


class PerformanceRow(BaseModel):
    """One measured configuration: what one instance of `profile` on `gpu_model` serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    gpu_model: str = Field(description="catalog model key")
    profile: str = Field(min_length=1)
    throughput_rps: float = Field(gt=0, description="requests per second one instance serves")
    latency_ms: float | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, ge=1)
    processes: int = Field(default=1, ge=1, description="processes sharing the instance (MPS)")
    memory_gb: float | None = Field(
        default=None, gt=0, description="instance memory it needs; None: the workload's"
    )
    line: int | None = Field(default=None, exclude=True)


class Problem(BaseModel):
    """What the planner is asked: the workloads and the fleet they may use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workloads: tuple[Workload, ...]
    pools: tuple[Pool, ...]
    # Measured configurations for throughput workloads (empty: count workloads only).
    performance: tuple[PerformanceRow, ...] = ()
    # Where the GPUs are (a node inventory): only the exports read it, to name real nodes and
    # devices; the planner does not, so it is left out of the inputs digest (`exclude`). Empty:
    # the node convention of `recommender.locate`.
    nodes: tuple[Node, ...] = Field(default=(), exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Problem:
        for kind, names in (
            ("workload", [w.name for w in self.workloads]),
            ("pool", [p.pool for p in self.pools]),
        ):
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate {kind} names")
        return self

    def workload(self, name: str) -> Workload:
        return next(w for w in self.workloads if w.name == name)

    def pool(self, name: str) -> Pool:
        return next(p for p in self.pools if p.pool == name)

    @property
    def total_replicas(self) -> int:
        return sum(w.replicas for w in self.workloads)

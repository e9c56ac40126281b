"""Where GPU `index` of pool `pool` sits: which node, which device. The one answer every export,
the rollout and the GPU Operator export use.

With a node inventory (`Problem.nodes`, from `import nodes --inventory`) a pool's GPUs are its
real nodes' devices, node after node in the inventory's order. Without one (or for GPUs of a
pool beyond its inventory, e.g. a fleet grown in a what-if) the node convention names them:
GPU i is device `i % gpus_per_node` of node `<pool>-node-<i // gpus_per_node>`
(`<pool>-new-node-<n>` past an inventory). The pool part is the pool name made a valid,
collision-free DNS-1123 label (`recommender.k8s`), at most 45 characters, so every convention
node name is both a valid node name and a valid label value (at most 63 characters).

Node names become mig-parted config names and `nvidia.com/mig.config` label values in the
exports; `config_name` maps a real node name that is not a valid label value (longer than 63
characters) to one, collision-free.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from recommender.k8s import Rule, renamed_note, unique_names
from recommender.problem import Problem

# "-new-node-" and up to 8 digits after it keep a convention node name within 63 characters.
POOL_PREFIX_MAX = 45


@dataclass(frozen=True)
class _PoolNodes:
    """A pool's real nodes: names, the first pool index of each, and their GPU counts."""

    names: tuple[str, ...]
    firsts: tuple[int, ...]
    gpus: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.firsts[-1] + self.gpus[-1] if self.names else 0


@dataclass(frozen=True)
class NodeLocator:
    """(pool, index) -> (node name, device); build it with `node_locator(problem)`."""

    prefixes: dict[str, str]
    gpus_per_node: dict[str, int]
    real: dict[str, _PoolNodes] = field(default_factory=dict)
    # Real node name -> label value, for the few that are not valid label values.
    node_labels: dict[str, str] = field(default_factory=dict)

    def __call__(self, pool: str, index: int) -> tuple[str, int]:
        nodes = self.real.get(pool)
        if nodes is not None and index < nodes.total:
            position = bisect.bisect_right(nodes.firsts, index) - 1
            return nodes.names[position], index - nodes.firsts[position]
        per_node = self.gpus_per_node.get(pool, 1)
        prefix = self.prefixes.get(pool) or unique_names([pool], Rule.DNS_LABEL)[pool]
        if nodes is not None:
            node, device = divmod(index - nodes.total, per_node)
            return f"{prefix}-new-node-{node}", device
        node, device = divmod(index, per_node)
        return f"{prefix}-node-{node}", device

    def config_name(self, node: str) -> str:
        """The node's `nvidia.com/mig.config` value when configs are named after nodes."""
        return self.node_labels.get(node, node)

    def notes(self) -> list[str]:
        """What was renamed to be a valid Kubernetes name, for export comments and the CLI."""
        pools = {pool: prefix for pool, prefix in self.prefixes.items() if pool not in self.real}
        found = [
            renamed_note(pools, "pool"),
            renamed_note(self.node_labels, "node (as a label value)"),
        ]
        return [note for note in found if note is not None]


def node_locator(problem: Problem) -> NodeLocator:
    """The locator of `problem`'s fleet: its inventory's nodes first, the convention after."""
    prefixes = unique_names(
        [pool.pool for pool in problem.pools], Rule.DNS_LABEL, max_length=POOL_PREFIX_MAX
    )
    real: dict[str, _PoolNodes] = {}
    by_pool: dict[str, list[tuple[str, int]]] = {}
    for node in problem.nodes:
        by_pool.setdefault(node.pool, []).append((node.node, node.gpus))
    for pool, nodes in by_pool.items():
        firsts, total = [], 0
        for _, gpus in nodes:
            firsts.append(total)
            total += gpus
        real[pool] = _PoolNodes(
            tuple(n for n, _ in nodes), tuple(firsts), tuple(g for _, g in nodes)
        )
    labels = unique_names([node.node for node in problem.nodes], Rule.LABEL_VALUE)
    return NodeLocator(
        prefixes=prefixes,
        gpus_per_node={pool.pool: pool.gpus_per_node for pool in problem.pools},
        real=real,
        node_labels={node: label for node, label in labels.items() if node != label},
    )

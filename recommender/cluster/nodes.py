"""`kubectl get nodes -o json` -> the fleet (pools) and a node inventory, from GFD labels.

GPU Feature Discovery labels every GPU node with its product, GPU count and MIG strategy
(k8s-device-plugin / gpu-feature-discovery docs). Under the `single` MIG strategy the product
carries a `-MIG-<profile>` suffix and the count is of MIG devices, not GPUs. Pools come from a
label the user names (e.g. the cloud's node-pool label) or from the GPU model.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from recommender.catalog import Catalog
from recommender.cluster.kubectl import items_of_list
from recommender.errors import InputError, InputIssue
from recommender.k8s import is_dns_subdomain
from recommender.problem import Node, Pool, Problem
from recommender.reading.problem import FLEET_COLUMNS
from recommender.reading.source import Source, parse_json, source_label
from recommender.reading.tables import check_number, check_text, check_unique, read_table

PRODUCT_LABEL = "nvidia.com/gpu.product"
COUNT_LABEL = "nvidia.com/gpu.count"
MEMORY_LABEL = "nvidia.com/gpu.memory"
STRATEGY_LABEL = "nvidia.com/mig.strategy"
CONFIG_LABEL = "nvidia.com/mig.config"
MIG_CAPABLE_LABEL = "nvidia.com/mig.capable"
GPU_RESOURCE = "nvidia.com/gpu"
MIG_SUFFIX = re.compile(r"^(?P<product>.+?)-MIG-(?P<profile>\d+g\.\d+gb\S*)$")
CATALOG_IMPORT_HINT = (
    "add it with `mig-recommender catalog import --lgip FILE --lgipp FILE --model NAME` "
    "and pass the result with --catalog"
)


@dataclass(frozen=True)
class NodeInfo:
    """One GPU node: its real name, the pool it belongs to and its GPUs."""

    node: str
    pool: str
    gpu_model: str
    gpus: int
    product: str
    mig_strategy: str | None = None
    mig_config: str | None = None
    single_profile: str | None = None


@dataclass(frozen=True)
class NodeInventory:
    """The GPU nodes, in pool order then node-name order; GPU `index` of a pool counts through
    its nodes in this order (node k's device d is index = GPUs of nodes before k + d).

    A plan's exports read it as `Problem.nodes` (`attach`); `recommender.locate` answers which
    node and device a pool's GPU is, and `gpu_index` is its inverse, for imported captures.
    """

    nodes: tuple[NodeInfo, ...]

    def pool_nodes(self, pool: str) -> list[NodeInfo]:
        return [n for n in self.nodes if n.pool == pool]

    def node(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.node == name), None)

    def gpu_index(self, node: str, device: int) -> tuple[str, int]:
        """(pool, index within the pool) of `device` of `node`."""
        info = self.node(node)
        if info is None:
            raise KeyError(node)
        before = 0
        for other in self.pool_nodes(info.pool):
            if other.node == node:
                return info.pool, before + device
            before += other.gpus
        raise KeyError(node)  # pragma: no cover - the node is in its own pool

    def problem_nodes(self) -> tuple[Node, ...]:
        """The inventory as the problem carries it (`Problem.nodes`)."""
        return tuple(Node(node=n.node, pool=n.pool, gpus=n.gpus) for n in self.nodes)

    def attach(self, problem: Problem, label: str = "inventory.json") -> Problem:
        """`problem` with these nodes, once they agree with its fleet: every node's pool is a
        pool of the fleet with the same GPU model. A pool may have more GPUs than its nodes (new
        nodes, named by the convention) or fewer (its first GPUs are used)."""
        pools = {pool.pool: pool for pool in problem.pools}
        issues: list[InputIssue] = []
        for n in self.nodes:
            pool = pools.get(n.pool)
            if pool is None:
                known = ", ".join(pools) or "none"
                message = f"node {n.node}: pool {n.pool!r} is not in the fleet (pools: {known})"
                issues.append(InputIssue(label, None, None, message))
            elif pool.gpu_model != n.gpu_model:
                message = (
                    f"node {n.node}: {n.gpu_model}, but pool {n.pool!r} of the fleet has "
                    f"{pool.gpu_model}"
                )
                issues.append(InputIssue(label, None, None, message))
        if issues:
            raise InputError(issues)
        return problem.model_copy(update={"nodes": self.problem_nodes()})

    def to_json(self) -> str:
        nodes = [
            {
                "node": n.node,
                "pool": n.pool,
                "gpu_model": n.gpu_model,
                "gpus": n.gpus,
                "product": n.product,
                "mig_strategy": n.mig_strategy,
                "mig_config": n.mig_config,
            }
            for n in self.nodes
        ]
        return json.dumps({"nodes": nodes}, indent=1) + "\n"

    @classmethod
    def from_json(cls, source: Source, label: str | None = None) -> NodeInventory:
        """Read the inventory `to_json` wrote (the node inventory file)."""
        name = label or source_label(source, "inventory.json")
        data = parse_json(source, name, "a node inventory (`import nodes --inventory`)")
        rows = data.get("nodes") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InputError.single(name, "expected an object with a `nodes` list")
        nodes: list[NodeInfo] = []
        issues: list[InputIssue] = []
        for i, row in enumerate(rows):
            where = f"nodes[{i}]"
            if not isinstance(row, dict):
                issues.append(InputIssue(name, None, where, "expected an object"))
                continue
            problems = [
                f"{key} must be a non-empty text"
                for key in ("node", "pool", "gpu_model")
                if not isinstance(row.get(key), str) or not row.get(key)
            ]
            gpus = row.get("gpus")
            if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 1:
                problems.append(f"gpus must be a whole number >= 1, not {gpus!r}")
            if problems:
                issues.extend(InputIssue(name, None, where, message) for message in problems)
                continue
            optional = {k: row.get(k) for k in ("mig_strategy", "mig_config")}
            nodes.append(
                NodeInfo(
                    node=row["node"],
                    pool=row["pool"],
                    gpu_model=row["gpu_model"],
                    gpus=gpus,
                    product=str(row.get("product") or ""),
                    mig_strategy=optional["mig_strategy"]
                    if isinstance(optional["mig_strategy"], str)
                    else None,
                    mig_config=optional["mig_config"]
                    if isinstance(optional["mig_config"], str)
                    else None,
                )
            )
        seen: set[str] = set()
        for i, info in enumerate(nodes):
            where = f"nodes[{i}]"
            if not is_dns_subdomain(info.node):
                message = (
                    f"node name {info.node!r} is not a Kubernetes node name (DNS-1123 subdomain)"
                )
                issues.append(InputIssue(name, None, where, message))
            if info.node in seen:
                issues.append(InputIssue(name, None, where, f"node {info.node} listed twice"))
            seen.add(info.node)
        if issues:
            raise InputError(issues)
        return cls(tuple(nodes))


@dataclass(frozen=True)
class NodesImport:
    pools: tuple[Pool, ...]
    inventory: NodeInventory
    notes: tuple[str, ...] = field(default=())

    def fleet_csv(self) -> str:
        """fleet.csv rows (docs/design.md, Inputs)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FLEET_COLUMNS)
        for pool in self.pools:
            price = f"{pool.cost_per_hour:g}"
            writer.writerow((pool.pool, pool.gpu_model, pool.gpus, price, pool.gpus_per_node))
        return out.getvalue()


def _product_table(catalog: Catalog) -> dict[str, str]:
    """GFD writes the nvidia-smi name with spaces as dashes; match keys and aliases that way."""
    table: dict[str, str] = {}
    for key, model in catalog.models.items():
        for name in (key, *model.aliases):
            table.setdefault(name.replace(" ", "-").casefold(), key)
    return table


def resolve_product(product: str, catalog: Catalog) -> tuple[str | None, str | None]:
    """(model key, single-strategy profile) of a `nvidia.com/gpu.product` value."""
    profile = None
    match = MIG_SUFFIX.match(product)
    if match:
        product, profile = match["product"], match["profile"]
    table = _product_table(catalog)
    key = table.get(product.casefold())
    if key is None and not product.upper().startswith("NVIDIA-"):
        key = table.get(f"nvidia-{product}".casefold())
    return key, profile


PRICE_COLUMNS = {"pool": False, "gpu_model": False, "cost_per_hour": True}


def read_prices(source: Source, label: str | None = None) -> dict[str, float]:
    """A prices CSV: `cost_per_hour` with `pool` or `gpu_model` (one price per pool or model),
    read and checked like every other CSV (`reading.tables`)."""
    name = label or source_label(source, "prices.csv")
    table = read_table(source, name, PRICE_COLUMNS)
    keys = [column for column in ("pool", "gpu_model") if column in table.cells]
    if len(keys) != 1:
        message = "expected a `pool` or a `gpu_model` column (one of them) with cost_per_hour"
        raise InputError.single(name, message, 1)
    names = check_text(table, keys[0])
    prices = check_number(table, "cost_per_hour", minimum=0, strict=False)
    issues = table.issues.in_file_order() + check_unique(table, keys[0], names)
    if issues:
        raise InputError(issues)
    return dict(zip(names.tolist(), prices.tolist(), strict=True))


def _count(value: object) -> int | None:
    try:
        count = int(str(value))
    except ValueError:
        return None
    return count if count >= 0 else None


def read_nodes(
    source: Source,
    catalog: Catalog,
    *,
    label: str | None = None,
    pool_label: str | None = None,
    prices: Mapping[str, float] | None = None,
    price: float | None = None,
) -> NodesImport:
    """Pools and node inventory of a `kubectl get nodes -o json` listing.

    Prices: `prices` by pool name or model key, else the one `price` for every pool.
    """
    name = label or source_label(source, "nodes.json")
    data = parse_json(source, name, "the output of `kubectl get nodes -o json`")
    issues: list[InputIssue] = []
    notes: list[str] = []
    nodes: list[NodeInfo] = []
    for index, item in items_of_list(data, name, "Node"):
        where = f"items[{index}]"
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        node_name = str(metadata.get("name") or where)
        labels = metadata.get("labels") or {}
        if not isinstance(labels, dict):
            issues.append(InputIssue(name, None, where, f"node {node_name}: labels not a map"))
            continue
        status = item.get("status") if isinstance(item.get("status"), dict) else {}
        capacity = status.get("capacity") if isinstance(status.get("capacity"), dict) else {}
        product = labels.get(PRODUCT_LABEL)
        if not product:
            if _count(capacity.get(GPU_RESOURCE)) or any(
                str(k).startswith("nvidia.com/mig-") for k in capacity
            ):
                msg = (
                    f"node {node_name} has NVIDIA GPUs but no {PRODUCT_LABEL} label: is GPU "
                    "Feature Discovery running on it?"
                )
                issues.append(InputIssue(name, None, where, msg))
            else:
                notes.append(f"node {node_name}: no GPUs, skipped")
            continue
        if str(labels.get(MIG_CAPABLE_LABEL, "")).lower() == "false":
            notes.append(f"node {node_name}: {product} is not MIG-capable, skipped")
            continue
        model_key, single_profile = resolve_product(str(product), catalog)
        if model_key is None:
            msg = (
                f"node {node_name}: GPU product {product!r} is not in the catalog; "
                + CATALOG_IMPORT_HINT
            )
            issues.append(InputIssue(name, None, f"{where}.metadata.labels", msg))
            continue
        gpus = _gpu_count(node_name, labels, capacity, catalog, model_key, single_profile, notes)
        if isinstance(gpus, str):
            issues.append(InputIssue(name, None, f"{where}.metadata.labels", gpus))
            continue
        if gpus == 0:
            notes.append(f"node {node_name}: {PRODUCT_LABEL} set but no GPUs counted, skipped")
            continue
        if pool_label:
            pool = labels.get(pool_label)
            if not pool:
                msg = f"node {node_name} has no {pool_label!r} label to take its pool from"
                issues.append(InputIssue(name, None, f"{where}.metadata.labels", msg))
                continue
        else:
            pool = model_key
        nodes.append(
            NodeInfo(
                node=node_name,
                pool=str(pool),
                gpu_model=model_key,
                gpus=gpus,
                product=str(product),
                mig_strategy=labels.get(STRATEGY_LABEL),
                mig_config=labels.get(CONFIG_LABEL),
                single_profile=single_profile,
            )
        )
    if issues:
        raise InputError(issues)
    if not nodes:
        raise InputError.single(name, "no GPU nodes with GPU Feature Discovery labels found")
    pools = _pools(nodes, name, prices, price, notes)
    order = {pool.pool: i for i, pool in enumerate(pools)}
    ordered = tuple(sorted(nodes, key=lambda n: (order[n.pool], n.node)))
    return NodesImport(pools, NodeInventory(ordered), tuple(notes))


def _gpu_count(
    node_name: str,
    labels: dict,
    capacity: dict,
    catalog: Catalog,
    model_key: str,
    single_profile: str | None,
    notes: list[str],
) -> int | str:
    """Physical GPUs of the node, or the problem as a message."""
    count = _count(labels.get(COUNT_LABEL, capacity.get(GPU_RESOURCE, 0)))
    if count is None:
        return f"node {node_name}: {COUNT_LABEL}={labels.get(COUNT_LABEL)!r} is not a count"
    if single_profile is None:
        return count
    # Single strategy: the count is of MIG devices, every GPU carrying the same profile.
    model = catalog.model(model_key)
    profile = model.profile_by_name.get(single_profile)
    if profile is None:
        return (
            f"node {node_name}: MIG profile {single_profile} (from its product label) does not "
            f"exist on {model_key}"
        )
    gpus, rest = divmod(count, profile.max_count)
    if rest:
        return (
            f"node {node_name}: {count} {single_profile} devices is not a whole number of GPUs "
            f"at {profile.max_count} per GPU; give the node's GPU count in the inventory"
        )
    notes.append(
        f"node {node_name}: single MIG strategy, {count} x {single_profile} read as {gpus} GPU(s) "
        f"of {profile.max_count}"
    )
    return gpus


def _pools(
    nodes: list[NodeInfo],
    label: str,
    prices: Mapping[str, float] | None,
    price: float | None,
    notes: list[str],
) -> tuple[Pool, ...]:
    by_pool: dict[str, list[NodeInfo]] = {}
    for node in nodes:
        by_pool.setdefault(node.pool, []).append(node)
    pools: list[Pool] = []
    issues: list[InputIssue] = []
    for pool_name in sorted(by_pool):
        members = by_pool[pool_name]
        models = sorted({n.gpu_model for n in members})
        if len(models) > 1:
            listed = ", ".join(f"{n.node} ({n.gpu_model})" for n in members)
            msg = f"pool {pool_name!r} mixes GPU models {models}: {listed}; a pool has one model"
            issues.append(InputIssue(label, None, None, msg))
            continue
        cost = None
        if prices is not None:
            cost = prices.get(pool_name, prices.get(models[0]))
        if cost is None:
            cost = price
        if cost is None:
            msg = (
                f"no price for pool {pool_name!r} ({models[0]}): add it to the prices CSV or "
                "give one price for all pools"
            )
            issues.append(InputIssue(label, None, None, msg))
            continue
        per_node = sorted({n.gpus for n in members})
        if len(per_node) > 1:
            notes.append(
                f"pool {pool_name}: nodes have {per_node} GPUs; gpus_per_node is {per_node[-1]} "
                "(the node inventory keeps each node's own count)"
            )
        pools.append(
            Pool(
                pool=pool_name,
                gpu_model=models[0],
                gpus=sum(n.gpus for n in members),
                cost_per_hour=cost,
                gpus_per_node=per_node[-1],
            )
        )
    if issues:
        raise InputError(issues)
    return tuple(pools)


def read_config_labels(source: Source, label: str | None = None) -> dict[str, str | None]:
    """{node: its `nvidia.com/mig.config` label, None without one} of a `kubectl get nodes -o
    json` listing: the config each node's MIG manager applies now."""
    name = label or source_label(source, "nodes.json")
    data = parse_json(source, name, "the output of `kubectl get nodes -o json`")
    labels: dict[str, str | None] = {}
    for index, item in items_of_list(data, name, "Node"):
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        node_labels = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
        value = node_labels.get(CONFIG_LABEL)
        labels[str(metadata.get("name") or f"items[{index}]")] = (
            value if isinstance(value, str) else None
        )
    return labels

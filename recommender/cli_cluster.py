"""The live-cluster commands of `mig-recommender` (README, "From a live cluster"): `import nodes`,
`import pods`, `import lgi`, `import mig-parted`, `check-config`, `catalog import`, and the
`plan` options `--inventory` / `--gpu-operator`.

`cli.py` registers them (`add_cluster_commands`, `add_plan_options`); the work is done by the
`recommender.cluster` readers, this module only parses arguments, writes files and prints. Exit
codes and error reporting are the CLI's (0 done, 1 a config not placeable, 2 unusable input).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recommender.catalog import Catalog
from recommender.cli import (
    EXIT_OK,
    PROG,
    UsageError,
    _add_catalog_option,
    _argument_type,
    _check_output_paths,
    checked_output_path,
    write_output,
)
from recommender.cluster.gpu_operator import plan_to_gpu_operator
from recommender.cluster.lgi import current_state_json, read_lgi_files
from recommender.cluster.lgip import import_model_files
from recommender.cluster.migparted import check_config, current_from_config, read_mig_parted
from recommender.cluster.nodes import NodeInventory, read_config_labels, read_nodes, read_prices
from recommender.cluster.pods import read_dcgm, read_pods
from recommender.errors import InputError
from recommender.locate import node_locator
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.reading import load_catalog

GPU_OPERATOR_FILE = "gpu-operator-mig-config.yaml"
_non_negative_float = _argument_type(
    float,
    lambda v: v >= 0 and v != float("inf"),
    "'{text}' is not a number",
    "{text} must be a number >= 0",
)


# --- registration ------------------------------------------------------------------------------


def add_cluster_commands(commands: argparse._SubParsersAction) -> None:
    """`import ...` and `check-config`; `catalog import` lives on the `catalog` command."""
    importer = commands.add_parser(
        "import",
        help="read a live cluster: kubectl nodes/pods, nvidia-smi -lgi, mig-parted configs",
        description="Turn what a cluster says about itself into this tool's input files.",
    )
    kinds = importer.add_subparsers(dest="kind", required=True, metavar="KIND")
    _add_import_nodes(kinds)
    _add_import_pods(kinds)
    _add_import_lgi(kinds)
    _add_import_mig_parted(kinds)
    check = commands.add_parser(
        "check-config",
        help="can each entry of a mig-parted config be placed on a GPU model at all?",
        description="Check a mig-parted config (or the GPU Operator ConfigMap holding one): "
        "exit 0 when every entry can be placed, 1 when any cannot, 2 when unreadable.",
    )
    check.add_argument("config", metavar="CONFIG", help="mig-parted YAML or a ConfigMap")
    check.add_argument("--gpu-model", required=True, metavar="MODEL", help="catalog model")
    check.add_argument("--config", dest="config_name", metavar="NAME", help="only this config")
    _add_catalog_option(check)
    check.set_defaults(run=run_check_config)


def add_catalog_import_options(catalog: argparse.ArgumentParser) -> None:
    """`catalog import --lgip F --lgipp F --model NAME [-o FILE]` on the `catalog` command."""
    catalog.add_argument("--lgip", metavar="FILE", help="with `import`: `nvidia-smi mig -lgip`")
    catalog.add_argument("--lgipp", metavar="FILE", help="with `import`: `nvidia-smi mig -lgipp`")
    catalog.add_argument("--model", dest="import_model", metavar="NAME", help="with `import`")
    catalog.add_argument("--gpu", type=int, metavar="N", help="with `import`: GPU of the capture")
    catalog.add_argument("-o", "--output", metavar="FILE", help="with `import`: write here")


def add_plan_options(plan: argparse.ArgumentParser) -> None:
    plan.add_argument(
        "--inventory",
        metavar="FILE",
        help="node inventory (`import nodes --inventory`): exports use the real node names and "
        "device indices",
    )
    plan.add_argument(
        "--gpu-operator",
        metavar="OUT",
        help="write the GPU Operator export to OUT: ConfigMap, ClusterPolicy patch and node "
        f"labels, in rollout waves with --current (e.g. {GPU_OPERATOR_FILE})",
    )


def _add_output(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "-o", "--output", metavar="FILE", help=f"write here (default: print; e.g. {default})"
    )


def _add_import_nodes(kinds: argparse._SubParsersAction) -> None:
    nodes = kinds.add_parser(
        "nodes",
        help="`kubectl get nodes -o json` -> fleet.csv and a node inventory",
        description="Pools and real node names from the GPU Feature Discovery labels.",
    )
    nodes.add_argument("nodes", metavar="NODES.json", help="`kubectl get nodes -o json` output")
    nodes.add_argument(
        "--pool-label", metavar="L", help="node label naming the pool (default: the GPU model)"
    )
    price = nodes.add_mutually_exclusive_group(required=True)
    price.add_argument("--prices", metavar="FILE", help="CSV: pool or gpu_model, cost_per_hour")
    price.add_argument("--price", type=_non_negative_float, metavar="X", help="one $/h per GPU")
    _add_output(nodes, "fleet.csv")
    nodes.add_argument("--inventory", metavar="FILE", help="also write the node inventory here")
    _add_catalog_option(nodes)
    nodes.set_defaults(run=run_import_nodes)


def _add_import_pods(kinds: argparse._SubParsersAction) -> None:
    pods = kinds.add_parser(
        "pods",
        help="`kubectl get pods -A -o json` -> workloads.csv",
        description="Workloads from the pods' MIG and GPU requests, grouped by owner.",
    )
    pods.add_argument("pods", metavar="PODS.json", help="`kubectl get pods -A -o json` output")
    pods.add_argument("--inventory", metavar="FILE", help="node inventory: GPU model per node")
    pods.add_argument("--dcgm", metavar="FILE", help="DCGM_FI_DEV_FB_USED samples (text or JSON)")
    pods.add_argument(
        "--headroom",
        type=_non_negative_float,
        default=0.1,
        metavar="F",
        help="with --dcgm: memory = observed peak x (1 + F) (default 0.1)",
    )
    _add_output(pods, "workloads.csv")
    _add_catalog_option(pods)
    pods.set_defaults(run=run_import_pods)


def _add_import_lgi(kinds: argparse._SubParsersAction) -> None:
    lgi = kinds.add_parser(
        "lgi",
        help="`nvidia-smi mig -lgi` captures (one per node) -> current state JSON",
        description="The instances running now, with exact start slots, for `plan --current`.",
    )
    lgi.add_argument("captures", nargs="+", metavar="FILE", help="one per node, named after it")
    lgi.add_argument("--inventory", required=True, metavar="FILE", help="node inventory")
    _add_output(lgi, "current.json")
    _add_catalog_option(lgi)
    lgi.set_defaults(run=run_import_lgi)


def _add_import_mig_parted(kinds: argparse._SubParsersAction) -> None:
    parted = kinds.add_parser(
        "mig-parted",
        help="the mig-parted config in use + node labels -> current state JSON",
        description="The layouts each node runs now, from the config its nvidia.com/mig.config "
        "label names. Configs have no start slots: GPUs are compared by profile counts.",
    )
    parted.add_argument("config", metavar="CONFIG", help="mig-parted YAML or a ConfigMap")
    parted.add_argument("--nodes", required=True, metavar="NODES.json", help="kubectl nodes")
    parted.add_argument("--inventory", required=True, metavar="FILE", help="node inventory")
    _add_output(parted, "current.json")
    _add_catalog_option(parted)
    parted.set_defaults(run=run_import_mig_parted)


# --- commands ----------------------------------------------------------------------------------


def _write_or_print(path: str | None, text: str, key: str) -> None:
    """Write `text` to the file of `--<key>`, or print it when the option is not given."""
    out = checked_output_path(key, path)
    if out is None:
        sys.stdout.write(text)
        return
    write_output(key, out, text)
    print(f"wrote {out}", file=sys.stderr)


def _notes(notes: tuple[str, ...] | list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _inventory(path: str) -> NodeInventory:
    return NodeInventory.from_json(Path(path), Path(path).name)


def run_import_nodes(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    prices = None if args.prices is None else read_prices(Path(args.prices), args.prices)
    outputs = {"output": args.output, "inventory": args.inventory}
    _check_output_paths({key: Path(path) for key, path in outputs.items() if path is not None})
    imported = read_nodes(
        Path(args.nodes),
        catalog,
        label=args.nodes,
        pool_label=args.pool_label,
        prices=prices,
        price=args.price,
    )
    _notes(imported.notes)
    if args.inventory is not None:
        _write_or_print(args.inventory, imported.inventory.to_json(), "inventory")
    _write_or_print(args.output, imported.fleet_csv(), "output")
    return EXIT_OK


def run_import_pods(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    models = None
    if args.inventory is not None:
        models = {n.node: n.gpu_model for n in _inventory(args.inventory).nodes}
    peaks = None if args.dcgm is None else read_dcgm(Path(args.dcgm), args.dcgm)
    imported = read_pods(
        Path(args.pods),
        catalog,
        label=args.pods,
        node_models=models,
        peaks_mib=peaks,
        headroom=args.headroom,
    )
    _notes(imported.notes)
    _write_or_print(args.output, imported.workloads_csv(), "output")
    return EXIT_OK


def run_import_lgi(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    state = read_lgi_files(args.captures, _inventory(args.inventory), catalog)
    _write_or_print(args.output, current_state_json(state), "output")
    return EXIT_OK


def run_import_mig_parted(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    config = read_mig_parted(Path(args.config), args.config)
    labels = read_config_labels(Path(args.nodes), args.nodes)
    state, notes = current_from_config(
        config, labels, _inventory(args.inventory), catalog, args.nodes
    )
    _notes(notes)
    _write_or_print(args.output, json.dumps(state, indent=1) + "\n", "output")
    return EXIT_OK


def run_check_config(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    key = _model_key(catalog, args.gpu_model)
    config = read_mig_parted(Path(args.config), args.config)
    result = check_config(config, key, catalog.model(key), args.config_name)
    sys.stdout.write(result.report())
    return result.exit_code


def run_catalog_import(args: argparse.Namespace) -> int:
    missing = [
        flag
        for flag, value in (
            ("--lgip", args.lgip),
            ("--lgipp", args.lgipp),
            ("--model", args.import_model),
        )
        if value is None
    ]
    if missing:
        raise UsageError(f"catalog import needs {', '.join(missing)}")
    imported = import_model_files(args.lgip, args.lgipp, args.import_model, gpu=args.gpu)
    _notes(imported.notes)
    _write_or_print(args.output, imported.catalog_json(), "output")
    return EXIT_OK


def _model_key(catalog: Catalog, name: str) -> str:
    key = catalog.resolve(name)
    if key is None:
        guess = catalog.suggest(name)
        hint = f"; did you mean {guess}?" if guess else ""
        raise UsageError(
            f"--gpu-model: unknown GPU model '{name}'{hint} (`{PROG} catalog` lists them)"
        )
    return key


# --- plan --inventory / --gpu-operator ---------------------------------------------------------


def with_inventory(args: argparse.Namespace, problem: Problem) -> Problem:
    """`problem` with the node inventory of `--inventory`, when given."""
    if getattr(args, "inventory", None) is None:
        return problem
    return _inventory(args.inventory).attach(problem, Path(args.inventory).name)


def gpu_operator_output(args: argparse.Namespace) -> Path | None:
    """The `--gpu-operator` path, checked before solving (like every export path)."""
    return checked_output_path("gpu-operator", getattr(args, "gpu_operator", None))


def write_gpu_operator(
    path: Path | None, plan: Plan, problem: Problem, catalog: Catalog
) -> list[tuple[str, Path]]:
    if path is None:
        return []
    write_output("gpu-operator", path, plan_to_gpu_operator(plan, problem, catalog))
    return [("gpu-operator", path)]


def name_notes(problem: Problem) -> list[str]:
    """CLI notes for names the exports had to map to valid Kubernetes names."""
    return [f"note: {note} (see the exports' headers)" for note in node_locator(problem).notes()]


__all__ = [
    "InputError",
    "add_catalog_import_options",
    "add_cluster_commands",
    "add_plan_options",
    "gpu_operator_output",
    "name_notes",
    "run_catalog_import",
    "with_inventory",
    "write_gpu_operator",
]

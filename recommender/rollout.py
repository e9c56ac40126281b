"""The rollout of a re-plan as things an operator runs: a bash script and the wave table (CSV).

Both read `plan.transition` (built by `recommender.transition`); a plan made without a current
state has none, and asking for these exports then is a usage error (`NoTransitionError`).

How the script applies a wave, and why (the Kubernetes parts the plan cannot see):
- Workloads are `$WORKLOAD_KIND/<name>` (default `deployment`) in `$NAMESPACE` whose pods carry
  the label `$WORKLOAD_LABEL=<name>` (default `app`).
- make: replicas that may start before the drain are started by scaling their workload up to
  its simulated count; with the node cordoned the new pods land on free instances elsewhere, and
  `kubectl rollout status` waits until they are ready.
- break: `kubectl drain <node> --pod-selector '<label> in (...)' --ignore-daemonsets` evicts the
  moving workloads' pods on that node through the Eviction API, so each workload's
  PodDisruptionBudget paces it (a plain `kubectl delete pod` would ignore the budget); pods of
  other workloads keep running, since their GPUs keep their layout and mig-parted skips GPUs
  whose config already matches. The selector is per node, not per GPU: a workload's pods on a
  kept GPU of the same node are evicted too (the plan's notes list them).
- relabel: `nvidia.com/mig.config=<config>`, then a bounded poll of
  `nvidia.com/mig.config.state` until `success` (fails on `failed` or after
  `$MIG_TIMEOUT_SECONDS`); `uncordon`; scale each workload to its count after the wave.
- Waves without nodes (moves, cleanup) stop replicas on kept GPUs: their pods get
  `controller.kubernetes.io/pod-deletion-cost` lowered so the following scale-down removes them.
"""

from __future__ import annotations

import csv
import io
import shlex
from collections import Counter

import yaml

from recommender.catalog import Catalog
from recommender.cluster.gpu_operator import (
    CONFIG_KEY,
    CONFIG_LABEL,
    DEFAULT_NAMESPACE,
    gpu_operator_export,
)
from recommender.exports import comment_text, guard_cell, name_notes
from recommender.k8s import Rule, is_dns_subdomain, is_label_value, renamed_note, unique_names
from recommender.plan import InstanceSlot, Plan, RolloutMove, Transition, Wave
from recommender.problem import Problem

HEREDOC_END = "MIG_RECOMMENDER_CONFIGMAP"
WAVE_COLUMNS = (
    "wave",
    "kind",
    "node",
    "config",
    "gpu",
    "change",
    "layout",
    "workload",
    "from",
    "to",
    "start_wave",
    "started_before_drain",
    "stop_wave",
    "temporary",
)


class NoTransitionError(ValueError):
    """The plan carries no transition: it was not made from a current state."""


def _transition(plan: Plan) -> Transition:
    if plan.transition is None:
        raise NoTransitionError(
            "the plan has no transition: make it with --current to get a rollout"
        )
    return plan.transition


def slot_label(slot: InstanceSlot | None) -> str:
    """`pool#index profile@start`, or empty."""
    if slot is None:
        return ""
    return f"{slot.pool}#{slot.index} {slot.profile}@{slot.start}"


# --- CSV ---------------------------------------------------------------------------------------


def waves_to_csv(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """The wave table: per wave one row per GPU it relabels, then one row per move."""
    transition = _transition(plan)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(WAVE_COLUMNS)
    for wave in transition.waves:
        for change in wave.gpus:
            layout = " | ".join(f"{i.profile}@{i.start}" for i in change.instances)
            row = (
                wave.index,
                wave.kind,
                change.node,
                wave.node_configs.get(change.node, ""),
                f"{change.pool}#{change.index}",
                change.change,
                layout,
                *([""] * 7),
            )
            writer.writerow([guard_cell(cell) for cell in row])
        for move in wave.moves:
            row = (
                wave.index,
                wave.kind,
                "",
                "",
                "",
                "",
                "",
                move.workload,
                slot_label(move.from_slot),
                slot_label(move.to_slot),
                "" if move.start_wave is None else move.start_wave,
                "yes" if move.start_before_drain else "no",
                "" if move.stop_wave is None else move.stop_wave,
                "yes" if move.temporary else "no",
            )
            writer.writerow([guard_cell(cell) for cell in row])
    return out.getvalue()


# --- the script --------------------------------------------------------------------------------


_comment = comment_text


def workload_names(transition: Transition) -> dict[str, str]:
    """Workload -> the name the script uses for its object (`$WORKLOAD_KIND/<name>`) and its pods'
    label value: a DNS-1123 label, which is both; names that are not are mapped, collision-free."""
    moving = {m.workload for w in transition.waves for m in w.moves}
    return unique_names(moving, Rule.DNS_LABEL)


def _wave_events(transition: Transition) -> dict[int, tuple[Counter, Counter, Counter, dict]]:
    """Per wave: starts before the drain, stops, starts after, and per workload the nodes its
    stopped replicas leave (from every move, wherever it is listed)."""
    events: dict[int, tuple[Counter, Counter, Counter, dict]] = {
        wave.index: (Counter(), Counter(), Counter(), {}) for wave in transition.waves
    }
    node_of = {
        (change.pool, change.index): change.node
        for wave in transition.waves
        for change in wave.gpus
    }
    for wave in transition.waves:
        for move in wave.moves:
            if move.to_slot is not None and move.start_wave in events:
                before, _, after, _ = events[move.start_wave]
                (before if move.start_before_drain else after)[move.workload] += 1
            stop_slot = move.to_slot if move.temporary else move.from_slot
            if stop_slot is not None and move.stop_wave in events:
                _, stopped, _, leaving = events[move.stop_wave]
                stopped[move.workload] += 1
                node = node_of.get((stop_slot.pool, stop_slot.index))
                leaving.setdefault(move.workload, set())
                if node is not None:
                    leaving[move.workload].add(node)
    return events


SCRIPT_HELPERS = r"""set -euo pipefail

NAMESPACE="${NAMESPACE:-default}"
WORKLOAD_KIND="${WORKLOAD_KIND:-deployment}"
WORKLOAD_LABEL="${WORKLOAD_LABEL:-app}"
CONFIGMAP_NAMESPACE="${CONFIGMAP_NAMESPACE:-__OPERATOR_NAMESPACE__}"
APPLY_CONFIGMAP="${APPLY_CONFIGMAP:-1}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-600s}"
MIG_TIMEOUT_SECONDS="${MIG_TIMEOUT_SECONDS:-900}"
MIG_POLL_SECONDS="${MIG_POLL_SECONDS:-10}"
# After a relabel the MIG manager first sets the state to pending; a state that stays `success`
# this long means the node needed no change.
MIG_SETTLE_SECONDS="${MIG_SETTLE_SECONDS:-30}"
DRY_RUN="${DRY_RUN:-0}"

run() {
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

scale() {  # scale <workload> <replicas>: set the count, wait until the pods are ready
  run kubectl -n "$NAMESPACE" scale "$WORKLOAD_KIND/$1" --replicas="$2"
  run kubectl -n "$NAMESPACE" rollout status "$WORKLOAD_KIND/$1" --timeout="$DRAIN_TIMEOUT"
}

evict() {  # evict <node> <workload>...: PodDisruptionBudget-paced eviction of their pods there
  local node=$1
  shift
  local selector
  selector="$WORKLOAD_LABEL in ($(IFS=,; echo "$*"))"
  run kubectl drain "$node" --pod-selector="$selector" --ignore-daemonsets \
    --delete-emptydir-data --timeout="$DRAIN_TIMEOUT"
}

retire() {  # retire <node> <workload>: make its pods on the node the first a scale-down removes
  local pods
  if [[ "$DRY_RUN" == 1 ]]; then
    run kubectl -n "$NAMESPACE" annotate pods -l "$WORKLOAD_LABEL=$2" \
      --field-selector "spec.nodeName=$1" controller.kubernetes.io/pod-deletion-cost=-1000 \
      --overwrite
    return
  fi
  pods=$(kubectl -n "$NAMESPACE" get pods -l "$WORKLOAD_LABEL=$2" \
    --field-selector "spec.nodeName=$1" -o name)
  for pod in $pods; do
    kubectl -n "$NAMESPACE" annotate "$pod" controller.kubernetes.io/pod-deletion-cost=-1000 \
      --overwrite
  done
}

wait_mig_config() {  # wait_mig_config <node>: bounded poll of the MIG manager's state label
  local node=$1 state seen_change=0
  local start=$SECONDS
  if [[ "$DRY_RUN" == 1 ]]; then
    echo "+ wait for $node nvidia.com/mig.config.state=success"
    return 0
  fi
  while true; do
    state=$(kubectl get node "$node" \
      -o jsonpath='{.metadata.labels.nvidia\.com/mig\.config\.state}')
    case "$state" in
      success)
        if (( seen_change == 1 || SECONDS - start >= MIG_SETTLE_SECONDS )); then
          return 0
        fi
        ;;
      failed)
        echo "node $node: the MIG manager reports failed; see its logs" >&2
        return 1
        ;;
      *)
        seen_change=1
        ;;
    esac
    if (( SECONDS - start >= MIG_TIMEOUT_SECONDS )); then
      echo "node $node: no nvidia.com/mig.config.state=success after ${MIG_TIMEOUT_SECONDS}s" >&2
      return 1
    fi
    sleep "$MIG_POLL_SECONDS"
  done
}
"""


def _configmap_yaml(plan: Plan, problem: Problem, catalog: Catalog, transition: Transition) -> str:
    """The plan's GPU Operator ConfigMap plus the rollout's intermediate configs."""
    export = gpu_operator_export(plan, problem, catalog)
    configmap = export.configmap
    mig_parted = yaml.safe_load(configmap["data"][CONFIG_KEY])
    mig_parted["mig-configs"].update(transition.mig_configs)
    configmap["data"][CONFIG_KEY] = yaml.safe_dump(mig_parted, sort_keys=False)
    text = yaml.safe_dump(configmap, sort_keys=False, default_flow_style=False)
    if any(line.strip() == HEREDOC_END for line in text.splitlines()):
        raise ValueError("the ConfigMap text contains the script's heredoc terminator")
    return text


def _wave_function(
    wave: Wave, events: tuple[Counter, Counter, Counter, dict], object_names: dict[str, str]
) -> list[str]:
    before, stopped, after, leaving = events

    def _selector_value(workload: str) -> str:
        return object_names[workload]

    low = wave.lowest_running
    lines = [f"wave_{wave.index}() {{"]
    nodes = " ".join(wave.nodes) or "no node"
    lines.append(f"  echo {shlex.quote(f'== wave {wave.index} ({wave.kind}): {nodes}')}")
    for change in wave.gpus:
        layout = " | ".join(f"{i.profile}@{i.start}" for i in change.instances) or "empty"
        lines.append(
            f"  # GPU {_comment(change.pool)}#{change.index} ({change.node} device "
            f"{change.device}) {change.change}: {_comment(layout)}"
        )
    for move in wave.moves:
        text = move_summary(move)
        if move.temporary:
            text += f" (temporary, waves {move.start_wave}-{move.stop_wave})"
        lines.append(f"  # move {_comment(text)}")
    drain = wave.kind == "drain"
    for node in wave.nodes if drain else []:
        lines.append(f"  run kubectl cordon {shlex.quote(node)}")
    # make: scale up to the count after the starts before the drain
    for workload in sorted(before):
        count = low.get(workload, 0) + stopped[workload]
        lines.append(f"  scale {shlex.quote(_selector_value(workload))} {count}")
    # break
    if drain:
        for node in wave.nodes:
            moving = sorted(w for w, where in leaving.items() if node in where)
            if moving:
                names = " ".join(shlex.quote(_selector_value(w)) for w in moving)
                lines.append(f"  evict {shlex.quote(node)} {names}")
    else:
        for workload in sorted(stopped):
            for node in sorted(leaving.get(workload, ())):
                lines.append(
                    f"  retire {shlex.quote(node)} {shlex.quote(_selector_value(workload))}"
                )
            lines.append(f"  scale {shlex.quote(_selector_value(workload))} {low.get(workload, 0)}")
    for node in wave.nodes:
        config = wave.node_configs[node]
        lines.append(
            f"  run kubectl label node {shlex.quote(node)} "
            f"{CONFIG_LABEL}={shlex.quote(config)} --overwrite"
        )
        lines.append(f"  wait_mig_config {shlex.quote(node)}")
    for node in wave.nodes if drain else []:
        lines.append(f"  run kubectl uncordon {shlex.quote(node)}")
    for workload in sorted(set(after) | (set(stopped) if drain else set())):
        count = low.get(workload, 0) + after[workload]
        lines.append(f"  scale {shlex.quote(_selector_value(workload))} {count}")
    lines.append("}")
    return lines


def _check_names(transition: Transition) -> None:
    for wave in transition.waves:
        for node in wave.nodes:
            if not is_dns_subdomain(node):
                raise ValueError(f"wave {wave.index}: node name {node!r} is not a Kubernetes name")
            if not is_label_value(wave.node_configs.get(node, "")):
                raise ValueError(
                    f"wave {wave.index}: config {wave.node_configs.get(node)!r} of node {node} "
                    "is not a valid label value"
                )


def rollout_script(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """Bash script applying the waves in order: `./rollout.sh [first wave]`."""
    transition = _transition(plan)
    _check_names(transition)
    count = len(transition.waves)
    names = workload_names(transition)
    renamed = renamed_note(names, "workload")
    lines = [
        "#!/usr/bin/env bash",
        f"# Rollout of a MIG recommender re-plan: {count} wave(s) of at most "
        f"{transition.wave_size} node(s).",
        f"# Cost now {transition.current_cost_per_hour:g} per hour, planned "
        f"{plan.cost_per_hour:g}; GPUs kept {transition.kept}, re-carved {transition.recarved}, "
        f"released {transition.released}, new {transition.new}; "
        f"{transition.moved_replicas} replica(s) moved.",
        "# Usage: ./rollout.sh [first wave]   (DRY_RUN=1 prints the commands instead)",
        "# Each wave, make-before-break: cordon its nodes (drain waves); scale up the workloads",
        "# whose replacements can start now, so they land on free instances elsewhere; evict the",
        "# moving pods with `kubectl drain --pod-selector` (the Eviction API honours each",
        "# workload's PodDisruptionBudget; --ignore-daemonsets keeps the GPU Operator's pods);",
        f"# label {CONFIG_LABEL}=<config>; wait for {CONFIG_LABEL}.state=success; uncordon;",
        "# scale each workload to its count after the wave.",
        "# Workloads are $WORKLOAD_KIND/<name> in $NAMESPACE, their pods labelled",
        "# $WORKLOAD_LABEL=<name>. The selector is per node, not per GPU: a workload's pods on a",
        "# kept GPU of a drained node are evicted too (the plan's notes list them).",
        "# The ConfigMap applied first holds every config the waves use; point the ClusterPolicy",
        "# at it (spec.migManager.config.name) as the GPU Operator export explains.",
    ]
    if renamed:
        lines.append(f"# {_comment(renamed)}.")
    lines.extend(_comment(note) for note in name_notes(problem))
    for dip in transition.dips:
        lines.append(
            f"# WARNING: {_comment(dip.workload)} runs {dip.lowest} of its floor {dip.floor} "
            f"in wave(s) {', '.join(str(w) for w in dip.waves)}"
        )
    lines.append("")
    lines.extend(SCRIPT_HELPERS.replace("__OPERATOR_NAMESPACE__", DEFAULT_NAMESPACE).splitlines())
    lines += [
        "",
        "apply_configmap() {",
        '  if [[ "$APPLY_CONFIGMAP" != 1 ]]; then return 0; fi',
        '  if [[ "$DRY_RUN" == 1 ]]; then',
        '    echo "+ kubectl apply -n $CONFIGMAP_NAMESPACE -f - (the ConfigMap)"',
        "    return 0",
        "  fi",
        f"  kubectl apply -n \"$CONFIGMAP_NAMESPACE\" -f - <<'{HEREDOC_END}'",
        *_configmap_yaml(plan, problem, catalog, transition).splitlines(),
        HEREDOC_END,
        "}",
        "",
    ]
    events = _wave_events(transition)
    for wave in transition.waves:
        lines.extend(_wave_function(wave, events[wave.index], names))
        lines.append("")
    lines += [
        f"WAVES={count}",
        'FIRST="${1:-1}"',
        'if ! [[ "$FIRST" =~ ^[0-9]+$ ]] || (( FIRST < 1 || (FIRST > WAVES && WAVES > 0) )); then',
        '  echo "usage: $0 [first wave, 1..$WAVES]" >&2',
        "  exit 2",
        "fi",
        "apply_configmap",
        "for (( wave = FIRST; wave <= WAVES; wave++ )); do",
        '  "wave_$wave"',
        "done",
        'echo "rollout done"',
    ]
    return "\n".join(lines) + "\n"


def move_summary(move: RolloutMove) -> str:
    """One line for a move, as the page and the CLI print it."""
    text = f"{move.workload}: {slot_label(move.from_slot) or 'new'} -> "
    return text + (slot_label(move.to_slot) or "stopped")

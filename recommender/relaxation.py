"""The cost stage's LP relaxation put to work: a rounded plan to start from, and a stronger bound.

With throughput workloads the cost stage is hard for CP-SAT on large inputs: every service's
coverage row mixes general-integer instance counts with rate coefficients, so a local search
from the placement stage's (expensive) plan moves slowly and the proven bound stays near the
plain LP. Both ends are attacked here, from one LP solve (GLOP) of the cost stage when the
placement stage has placed everything (every class fully covered):

- `rounded_solution`: every class gets the integer instance mix that is cheapest at the LP's
  prices of instances (the duals of the instance-capacity rows), then a small CP-SAT model
  picks the cheapest layouts that carve those instances. A feasible solution of the full model,
  used to hint the cost stage.
- `lagrangian_bound`: relax the instance-capacity rows with those prices. The relaxed problem
  splits into one small integer problem per class (the cheapest integer instance mix covering
  its rate and minimum instance count, solved exactly by branch and bound) and one per pool
  (every layout's price less the prices of its instances, times the usable GPUs if negative).
  For any non-negative prices the sum is a lower bound on the cost (weak duality), and because
  it keeps each service's instance counts integer it is at least the LP bound at the LP's duals
  (a service needing 1.2 instances pays for two) — the bound the LP cannot see.

Only for fresh plans without spread classes (the spread classes' per-layout counts are another
model); `None` otherwise, and the caller keeps what CP-SAT proved.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from recommender.formulation import DemandClass, Formulation
from recommender.layouts import Layout
from recommender.model import Solution

# Branch-and-bound nodes per class before its exact minimum is replaced by a lower bound of it
# (the bound stays valid, only weaker; the rounded plan takes the best mix found).
NODE_LIMIT = 5_000
# Floating-point safety of the Lagrangian bound (its prices come from a float LP).
BOUND_SLACK = 1e-6


@dataclass
class Relaxation:
    """What column generation proved and found."""

    value: float  # the last LP's value, price units
    prices: dict[tuple[int, str], float]  # (pool index, profile) -> dual of its capacity row
    bound: float  # the best Lagrangian bound, price units
    chosen: dict[int, dict[tuple[int, str], int]]  # per class, its mix of largest LP weight
    columns: dict[int, list[dict[tuple[int, str], int]]] = field(default_factory=dict)


def applies(f: Formulation) -> bool:
    """Whether the relaxation's model is the cost stage's: a fresh plan, no spread class."""
    return not f.replanning and not f.groups and not any(c.spread for c in f.classes)


def _need(c: DemandClass) -> tuple[dict[tuple[int, str], int], int, int]:
    """A class as a covering problem: what one unit serves per option, the total to cover and
    the minimum number of units (a count class: one replica each, demand of them)."""
    if c.throughput is not None:
        t = c.throughput
        return {o: t.served[o] for o in c.options}, t.required, t.minimum
    return {o: 1 for o in c.options}, c.demand, c.demand


def _carving_rows(
    lp: pywraplp.Solver, f: Formulation
) -> dict[tuple[int, str], pywraplp.Constraint]:
    """The fleet side of the cost stage's LP: GPUs carved per layout (at most `usable` per pool),
    their cost as the objective to minimize, and one row per (pool, profile) that the demand's
    instance columns must stay within (<= 0, carved instances entering negatively)."""
    inf = lp.infinity()
    carved = {(pd.index, lay): lp.NumVar(0, pd.usable, "") for pd in f.pools for lay in pd.layouts}
    rows: dict[tuple[int, str], pywraplp.Constraint] = {}
    for pd in f.pools:
        lp.Add(sum(carved[pd.index, lay] for lay in pd.layouts) <= pd.usable)
        for name in pd.profiles:
            row = rows[pd.index, name] = lp.Constraint(-inf, 0)
            for lay in pd.layouts:
                if name in lay.counts:
                    row.SetCoefficient(carved[pd.index, lay], -lay.counts[name])
    objective = lp.Objective()
    for (q, _), var in carved.items():
        objective.SetCoefficient(var, f.pools[q].price)
    objective.SetMinimization()
    return rows


def plain_lp_prices(f: Formulation, time_limit: float) -> dict[tuple[int, str], float] | None:
    """Instance prices from the plain LP of the cost stage (instance counts continuous): the
    first column generation round's mixes at these prices are already good ones."""
    lp = pywraplp.Solver.CreateSolver("GLOP")
    if lp is None or time_limit <= 0:
        return None
    lp.SetTimeLimit(max(1, int(time_limit * 1000)))
    inf = lp.infinity()
    rows = _carving_rows(lp, f)
    for c in f.classes:
        served, required, minimum = _need(c)
        cover = lp.Constraint(required, inf)
        count = lp.Constraint(minimum, inf)
        for option, rate in served.items():
            x = lp.NumVar(0, c.demand, "")
            cover.SetCoefficient(x, rate)
            count.SetCoefficient(x, 1)
            rows[option].SetCoefficient(x, 1)
    if lp.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    return {option: max(0.0, -row.dual_value()) for option, row in rows.items()}


def _mix_of(solution: Solution, c: DemandClass) -> dict[tuple[int, str], int]:
    return {(q, n): k for (ci, q, n), k in solution.placed.items() if ci == c.index and k}


def column_generation(f: Formulation, start: Solution, seconds: float) -> Relaxation | None:
    """The LP over integer instance mixes (one convex combination per class) and layouts,
    grown by pricing (`cheapest_mix`) until no mix prices out or `seconds` pass.

    Its duals are the instance prices; at every round the Lagrangian bound at those prices is
    a lower bound of the cost stage (the best is kept), and it reaches the LP's value when no
    column prices out. `start` (a feasible solution fully covering every class, e.g. the
    placement stage's) seeds the columns so the LP is feasible from the first round.
    """
    if not applies(f) or seconds <= 0:
        return None
    ends = time.perf_counter() + seconds
    lp = pywraplp.Solver.CreateSolver("GLOP")
    if lp is None:
        return None
    rows = _carving_rows(lp, f)
    objective = lp.Objective()
    convex = {c.index: lp.Constraint(1, 1) for c in f.classes}
    columns: dict[int, list[tuple[dict, pywraplp.Variable]]] = {c.index: [] for c in f.classes}

    def add_column(c: DemandClass, mix: dict[tuple[int, str], int]) -> bool:
        if any(mix == known for known, _ in columns[c.index]):
            return False
        var = lp.NumVar(0, 1, "")
        convex[c.index].SetCoefficient(var, 1)
        for option, k in mix.items():
            rows[option].SetCoefficient(var, k)
        columns[c.index].append((mix, var))
        return True

    seeded = plain_lp_prices(f, seconds / 4)
    seeds = lagrangian_bound(f, seeded)[1] if seeded else {}
    for c in f.classes:
        add_column(c, _mix_of(start, c))
        if seeds.get(c.index):
            add_column(c, seeds[c.index])
    best = Relaxation(0.0, {}, -math.inf, {})
    while time.perf_counter() < ends:
        lp.SetTimeLimit(max(1, int((ends - time.perf_counter()) * 1000)))
        if lp.Solve() != pywraplp.Solver.OPTIMAL:
            break
        # A <= row of a minimization has a non-positive dual: an instance's price is its size.
        prices = {option: max(0.0, -row.dual_value()) for option, row in rows.items()}
        bound, mixes, _ = lagrangian_bound(f, prices)
        chosen = {
            c.index: max(columns[c.index], key=lambda col: col[1].solution_value())[0]
            for c in f.classes
        }
        value = objective.Value()
        if bound > best.bound:
            best = Relaxation(value, prices, bound, chosen)
        else:
            best.value, best.chosen = value, chosen
        # Read every dual before adding a column: the solver forgets its solution then.
        duals = {c.index: convex[c.index].dual_value() for c in f.classes}
        added = 0
        for c in f.classes:
            if mixes[c.index] and (
                sum(prices[o] * k for o, k in mixes[c.index].items())
                < duals[c.index] - 1e-6 * max(1.0, abs(value))
            ):
                added += add_column(c, mixes[c.index])
        if not added or value - best.bound <= 1e-5 * value:
            break
    if best.bound == -math.inf:
        return None
    best.columns = {c: [mix for mix, _ in found] for c, found in columns.items()}
    return best


def cheapest_mix(
    served: dict[tuple[int, str], int],
    prices: dict[tuple[int, str], float],
    required: int,
    minimum: int,
) -> tuple[float, dict[tuple[int, str], int], bool]:
    """The integer instance mix of least price covering `required` with at least `minimum`
    instances: (its price, the mix, whether it is proven least). Branch and bound over the
    options by price per unit served; past NODE_LIMIT nodes the price returned is a lower bound
    of the least one (not the mix's price) and the mix the best found."""
    items = sorted(served, key=lambda o: (prices[o] / served[o], prices[o], o))
    rate = [served[o] for o in items]
    price = [prices[o] for o in items]
    n = len(items)
    # Lower bounds on completing from item i on: cheapest per unit served and per instance.
    per_unit = [min(price[j] / rate[j] for j in range(i, n)) for i in range(n)]
    per_item = [min(price[j:]) for j in range(n)]
    best = [math.inf, None]
    counts = [0] * n
    nodes = 0
    exhausted = False
    root = max(required * per_unit[0], minimum * per_item[0])

    def dive(i: int, left: int, still: int, spent: float) -> None:
        nonlocal nodes, exhausted
        if left <= 0 and still <= 0:
            if spent < best[0]:
                best[0], best[1] = spent, list(counts)
            return
        if i == n:
            return
        nodes += 1
        if nodes > NODE_LIMIT:
            exhausted = True
            return
        bound = spent + max(max(left, 0) * per_unit[i], max(still, 0) * per_item[i])
        if bound >= best[0] - 1e-9:
            return
        most = max(-(-max(left, 0) // rate[i]), max(still, 0))
        for k in range(most, -1, -1):
            counts[i] = k
            dive(i + 1, left - k * rate[i], still - k, spent + k * price[i])
            if exhausted:
                break
        counts[i] = 0

    dive(0, required, minimum, 0.0)
    mix = {items[i]: k for i, k in enumerate(best[1] or []) if k}
    if exhausted:
        return root, mix, False
    return best[0], mix, True


def lagrangian_bound(
    f: Formulation, prices: dict[tuple[int, str], float]
) -> tuple[float, dict[int, dict], bool]:
    """A lower bound on the cost stage (price units) at these instance prices, per class the
    cheapest integer mix at them, and whether every class's minimum was proven."""
    total = 0.0
    mixes: dict[int, dict] = {}
    proven = True
    for c in f.classes:
        served, required, minimum = _need(c)
        value, mix, exact = cheapest_mix(served, prices, required, minimum)
        total += value
        mixes[c.index] = mix
        proven = proven and exact
    for pd in f.pools:
        # GPUs whose layout is worth more than its price at these instance prices.
        margin = min(
            pd.price - sum(k * prices.get((pd.index, p), 0.0) for p, k in lay.counts.items())
            for lay in pd.layouts
        )
        total += pd.usable * min(0.0, margin)
    return total - BOUND_SLACK * abs(total) - 1.0, mixes, proven


def rounded_solution(
    f: Formulation, relaxation: Relaxation, time_limit: float, workers: int = 2
) -> Solution | None:
    """One of its generated mixes per class and the layouts that carve them, cheapest first
    (CP-SAT on the restricted master problem: a Boolean per mix, an integer per (pool,
    layout)), hinted with each class's mix of largest LP weight; None if nothing is found in
    the time. The LP has few fractional classes, so the hint is nearly right and the search
    short."""
    m = cp_model.CpModel()
    carved = {
        (pd.index, lay): m.new_int_var(0, pd.usable, "") for pd in f.pools for lay in pd.layouts
    }
    load: dict[tuple[int, str], list] = {}
    picks: dict[int, list[tuple[dict, cp_model.IntVar]]] = {}
    for c in f.classes:
        mixes = [
            mix for mix in relaxation.columns[c.index] if all(k <= c.demand for k in mix.values())
        ]
        if not mixes:
            return None
        picks[c.index] = [(mix, m.new_bool_var("")) for mix in mixes]
        m.add_exactly_one(var for _, var in picks[c.index])
        for mix, var in picks[c.index]:
            m.add_hint(var, mix == relaxation.chosen[c.index])
            for option, k in mix.items():
                load.setdefault(option, []).append(k * var)
    for pd in f.pools:
        m.add(sum(carved[pd.index, lay] for lay in pd.layouts) <= pd.usable)
    for (q, name), terms in load.items():
        offered = sum(
            lay.counts[name] * carved[q, lay] for lay in f.pools[q].layouts if name in lay.counts
        )
        m.add(sum(terms) <= offered)
    m.minimize(sum(f.pools[q].price * var for (q, _), var in carved.items()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    solver.parameters.num_workers = workers
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    gpus_with: dict[tuple[int, Layout], int] = {k: solver.value(v) for k, v in carved.items()}
    placed: dict[tuple[int, int, str], int] = {}
    for c in f.classes:
        for mix, var in picks[c.index]:
            if solver.value(var):
                placed.update({(c.index, q, name): k for (q, name), k in mix.items()})
    return Solution(gpus_with, placed, {}, {c.index: 0 for c in f.classes})


@dataclass
class Start:
    """What the cost stage starts from: the cheaper known solution and a proven bound."""

    solution: Solution
    bound: float | None  # price units, or None when column generation did not run


def cost_stage_start(
    f: Formulation,
    start: Solution,
    cost_of: Callable[[Solution], int],
    seconds: float,
    workers: int,
) -> Start:
    """`start` (the placement stage's solution, every class fully covered) or, when cheaper,
    the rounded column generation solution; with the Lagrangian bound when it ran. Column
    generation takes at most 2/3 of `seconds`, the carving of its mixes the rest."""
    began = time.perf_counter()
    relaxation = column_generation(f, start, seconds * 2 / 3)
    if relaxation is None:
        return Start(start, None)
    rounded = rounded_solution(f, relaxation, seconds - (time.perf_counter() - began), workers)
    if rounded is not None and cost_of(rounded) < cost_of(start):
        start = rounded
    return Start(start, relaxation.bound)

"""Budgets beyond the paper: thresholds that meet an average cost per image.

The cost of a sample is the cumulative cost of the exit it takes: FLOPs from
the logits file, or measured milliseconds (`path_ms` of a latency file, the
time to run the cascade through exit k). The search stays inside the paper's
exit-share family: it looks for the q (continuous, 0 and inf included as
limits) whose hold-out expected cost is the largest that still fits the
budget, then reports what those thresholds achieve on the test set.

Expected cost is piecewise constant in q and, because of the floors in n_k,
not strictly monotone, so the search evaluates a log-spaced grid (plus the
paper's q values) and bisects every grid interval where the budget is crossed.
"""

import dataclasses
import math

import numpy as np

from msdnet_tf.evaluation import budgeted
from msdnet_tf.evaluation.common import EvaluationError, encode_float, read_json

# q from 1e-6 to 1e6, 20 points per decade, then bisection to this precision.
_GRID = [10.0 ** (e / 20) for e in range(-120, 121)]
_BISECT_STEPS = 48
UNITS = {"flops": "FLOPs", "latency_ms": "ms"}


@dataclasses.dataclass(frozen=True)
class Budget:
    """An average cost per image; `costs[k]` is the cost of leaving at exit k."""

    metric: str
    value: float
    costs: tuple
    provenance: dict = dataclasses.field(default_factory=dict)

    def describe(self, x):
        return f"{x / 1e6:,.2f}M FLOPs" if self.metric == "flops" else f"{x:,.3f} ms"


def flops_budget(value, exit_flops):
    return _checked(Budget("flops", float(value), tuple(float(f) for f in exit_flops)))


@dataclasses.dataclass(frozen=True)
class LatencyProfile:
    """A latency.json: per-exit timings of the cascade on one device."""

    path_ms: tuple
    device: object = None
    threads: object = None
    mode: object = None
    source: str = ""


def load_latency(path, num_exits=None):
    """Reads and checks a latency file; the cost of exit k is its `path_ms`."""
    return latency_from_dict(read_json(path, "latency file"), path, num_exits)


def latency_from_dict(data, path, num_exits=None):
    """A `LatencyProfile` of a latency file's content (or of one of its `resolutions`)."""
    exits = data.get("exits")
    if not isinstance(exits, list) or not exits or not all(isinstance(e, dict) for e in exits):
        raise EvaluationError(f"latency file {path}: 'exits' must be a non-empty list of "
                              f"objects. Received: {exits!r}")
    indices = [e.get("exit") for e in exits]
    if sorted(i for i in indices if isinstance(i, int)) != list(range(len(exits))):
        raise EvaluationError(f"latency file {path}: exit numbers must be 0..{len(exits) - 1}, "
                              f"each once. Received: {indices}")
    if num_exits is not None and len(exits) != num_exits:
        raise EvaluationError(f"latency file {path} has {len(exits)} exits but the model has "
                              f"{num_exits}")
    path_ms = []
    for e in sorted(exits, key=lambda e: e["exit"]):
        ms = e.get("path_ms")
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not (
                math.isfinite(ms) and ms > 0):
            raise EvaluationError(f"latency file {path}: path_ms of exit_{e['exit']} must be a "
                                  f"positive number. Received: {ms!r}")
        path_ms.append(float(ms))
    return LatencyProfile(path_ms=tuple(path_ms), device=data.get("device"),
                          threads=data.get("threads"), mode=data.get("mode"), source=str(path))


def latency_budget(value, profile):
    provenance = {"file": profile.source, "device": profile.device,
                  "threads": profile.threads, "mode": profile.mode}
    return _checked(Budget("latency_ms", float(value), profile.path_ms, provenance))


def _checked(budget):
    if not (math.isfinite(budget.value) and budget.value > 0):
        raise EvaluationError(f"the budget must be a positive number. "
                              f"Received: {budget.value} {UNITS[budget.metric]}")
    if budget.value < budget.costs[0]:
        raise EvaluationError(
            f"a budget of {budget.describe(budget.value)} per image is below the cost of "
            f"exit_0 ({budget.describe(budget.costs[0])}): no setting can meet it")
    return budget


@dataclasses.dataclass(frozen=True)
class BudgetResult:
    """The chosen setting: its q, thresholds and outcomes (`point`), its costs."""

    budget: Budget
    point: budgeted.BudgetedPoint
    binding: bool
    val_cost: float
    test_cost: float
    note: str
    evaluated: int


class _Search:
    """Hold-out outcome per q, cached by the exit counts n_k (which fix it)."""

    def __init__(self, budget, val_scores, finder):
        self.budget, self.val, self.finder = budget, val_scores, finder
        self.by_counts, self.cost, self.acc = {}, {}, {}

    def __call__(self, q):
        if q not in self.cost:
            n = self.val.num_samples
            key = tuple(budgeted.exit_counts(n, self.val.num_exits, q))
            if key not in self.by_counts:
                out = budgeted.split_outcome(self.val, self.finder.thresholds(q))
                self.by_counts[key] = (out.expected_cost(self.budget.costs), out.accuracy)
            self.cost[q], self.acc[q] = self.by_counts[key]
        return self.cost[q]

    def fits(self, q):
        return self(q) <= self.budget.value


def _bisect(search, lo, hi):
    """lo fits, hi does not: narrows the crossing in log-space."""
    for _ in range(_BISECT_STEPS):
        mid = math.sqrt(lo * hi)
        if not lo < mid < hi:
            break
        if search.fits(mid):
            lo = mid
        else:
            hi = mid


def search_budget(budget, val_scores, test_scores, finder=None):
    """The paper-family thresholds that best use `budget` on the hold-out.

    Binding budget (below the last exit's cost): the largest hold-out expected
    cost <= budget (ties: the better hold-out accuracy). Otherwise every setting
    fits, and of the paper's q = 1/20 ... 39/20 and q = inf (everything at the
    last exit) the one with the best hold-out accuracy is taken (ties: the cheaper).
    """
    finder = finder or budgeted.ThresholdFinder(val_scores.max_prob)
    search = _Search(budget, val_scores, finder)
    grid = sorted(set([0.0, math.inf] + _GRID + budgeted.paper_q_values()), key=float)
    fits = [search.fits(q) for q in grid]
    binding = budget.value < max(budget.costs)
    if binding:
        # Refine each crossing between finite grid points (q = 0 and inf are
        # limits, not ends of a continuous interval).
        for (a, fa), (b, fb) in zip(zip(grid, fits), zip(grid[1:], fits[1:])):
            if fa and not fb and 0 < a and b < math.inf:
                _bisect(search, float(a), float(b))
        feasible = [q for q in search.cost if search.cost[q] <= budget.value]
        best = max(feasible, key=lambda q: (search.cost[q], search.acc[q], -float(q)))
        note = "largest hold-out expected cost within the budget"
    else:
        # Every setting fits. The best of the paper's points (and of "all at
        # the last exit") is taken: a finer search would only fit hold-out noise.
        points = budgeted.paper_q_values() + [math.inf]
        best = max(points, key=lambda q: (search.acc[q], -search.cost[q], -float(q)))
        note = (f"the budget is at or above the cost of the last exit "
                f"({budget.describe(max(budget.costs))}), so it does not bind: best "
                f"hold-out accuracy of q = 1/20 ... 39/20 and of everything at the last exit")
    point = budgeted.evaluate_q(finder, val_scores, test_scores, best)
    return BudgetResult(
        budget=budget, point=point, binding=binding,
        val_cost=point.val.expected_cost(budget.costs),
        test_cost=point.test.expected_cost(budget.costs), note=note,
        evaluated=len(search.by_counts),
    )


def encode_q(q):
    return encode_float(float(q))


def budget_record(result, exit_flops=None):
    """What was asked and what was achieved, JSON-ready (thresholds.json "budget")."""
    p = result.point
    record = {
        "metric": result.budget.metric,
        "unit": UNITS[result.budget.metric],
        "requested": result.budget.value,
        "achieved_val": result.val_cost,
        "achieved_test": result.test_cost,
        "binding": result.binding,
        "q": encode_q(p.q),
        "val_accuracy": p.val.accuracy,
        "test_accuracy": p.test.accuracy,
        "val_exit_fractions": list(p.val.fractions),
        "test_exit_fractions": list(p.test.fractions),
        "exit_costs": list(result.budget.costs),
        "note": result.note,
    }
    if exit_flops is not None:
        record["test_expected_flops"] = p.test.expected_cost(np.asarray(exit_flops).tolist())
    if result.budget.provenance:
        record["latency"] = dict(result.budget.provenance)
    return record

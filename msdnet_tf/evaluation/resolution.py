"""Evaluation over the joint (resolution, exit) space of a resolution-switchable model.

Inputs are one `LogitsSet` per input side r (the same hold-out and test images
in the same order, each preprocessed at r). Three ways to spend a budget:

- single resolution: the ordinary cascade at one side r (its exits, costs C_r(k));
- envelope: for the budget, the side r and thresholds with the best hold-out
  accuracy among the single-resolution cascades (what a deployment picks);
- cross-resolution cascade: exits 0..m of a smaller side s first, then, for
  the images still unsure, the network at a larger side L from scratch, whose
  exits j..K-1 may answer: exits [(s, 0) ... (s, m), (L, j) ... (L, K-1)] with
  costs C_s(k), then C_s(m) + C_L(k) (nothing is shared between sides). The
  paper's exit-share family (q) and hold-out thresholds apply unchanged to
  that list of exits.

For a budget each candidate (a side, or a cross path) gets its thresholds by
`budgets.search_budget` (largest hold-out cost within the budget); the
candidate with the best hold-out accuracy wins. Curves use the paper's q
values per candidate and keep, for a grid of budgets, the best hold-out
point within it. Pure numpy.
"""

import dataclasses
import math

import numpy as np

from msdnet_tf.evaluation import anytime, budgeted, budgets, scores
from msdnet_tf.evaluation.common import EvaluationError


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A cascade over a list of (side, exit) states with cumulative costs.

    states: ((r, k), ...); costs: cost of leaving at each state; val / test:
    `ExitScores` rows in state order.
    """

    states: tuple
    costs: tuple
    val: scores.ExitScores
    test: scores.ExitScores

    @property
    def name(self):
        sides = []
        for r, k in self.states:
            if not sides or sides[-1][0] != r:
                sides.append([r, k, k])
            sides[-1][2] = k
        return " -> ".join(f"{r}:exit_{a}" + (f"..{b}" if b != a else "") for r, a, b in sides)

    @property
    def resolution(self):
        """The side of a single-resolution candidate, None for a cross path."""
        sides = {r for r, _ in self.states}
        return sides.pop() if len(sides) == 1 else None


def _rows(exit_scores, rows):
    return scores.ExitScores(
        max_prob=exit_scores.max_prob[rows], prediction=exit_scores.prediction[rows],
        correct=exit_scores.correct[rows], correct_top_k=exit_scores.correct_top_k[rows],
        top_k=exit_scores.top_k)


def _stack(parts):
    return scores.ExitScores(
        max_prob=np.concatenate([p.max_prob for p in parts]),
        prediction=np.concatenate([p.prediction for p in parts]),
        correct=np.concatenate([p.correct for p in parts]),
        correct_top_k=np.concatenate([p.correct_top_k for p in parts]), top_k=parts[0].top_k)


class JointSpace:
    """Scores of every (side, exit) on hold-out and test, and their costs.

    sets: {r: LogitsSet}; costs: {r: per-exit cumulative costs} (default: the
    FLOPs of each logits file).
    """

    def __init__(self, sets, costs=None, top_k=5):
        if not sets:
            raise EvaluationError("no logits to evaluate")
        self.sizes = tuple(sorted(sets, reverse=True))
        first = sets[self.sizes[0]]
        for r in self.sizes:
            data = sets[r]
            if data.num_exits != first.num_exits or data.num_classes != first.num_classes or \
                    not np.array_equal(data.val_labels, first.val_labels) or \
                    not np.array_equal(data.test_labels, first.test_labels):
                raise EvaluationError(f"the logits of {r}x{r} ({data.source}) are not of the same "
                                      f"model and images as those of {self.sizes[0]}x"
                                      f"{self.sizes[0]} ({first.source})")
        self.num_exits = first.num_exits
        self.sets = sets
        self.flops = {r: tuple(float(f) for f in sets[r].exit_flops) for r in self.sizes}
        self.costs = {r: tuple(float(c) for c in (costs or self.flops)[r]) for r in self.sizes}
        self.val = {r: scores.exit_scores(sets[r].val_logits, sets[r].val_labels, top_k)
                    for r in self.sizes}
        self.test = {r: scores.exit_scores(sets[r].test_logits, sets[r].test_labels, top_k)
                     for r in self.sizes}

    def with_costs(self, costs):
        """The same scores with other per-(side, exit) costs (e.g. measured ms)."""
        other = object.__new__(JointSpace)
        other.__dict__.update(self.__dict__)
        other.costs = {r: tuple(float(c) for c in costs[r]) for r in self.sizes}
        return other

    def single(self, r):
        k = self.num_exits
        return Candidate(tuple((r, i) for i in range(k)), self.costs[r], self.val[r],
                         self.test[r])

    def cross(self, small, m, large, j):
        """Exits 0..m at `small`, then exits j..K-1 at `large` (which runs from scratch)."""
        k = self.num_exits
        head, tail = list(range(m + 1)), list(range(j, k))
        states = tuple((small, i) for i in head) + tuple((large, i) for i in tail)
        spent = self.costs[small][m]
        costs = tuple(self.costs[small][i] for i in head) + tuple(
            spent + self.costs[large][i] for i in tail)
        return Candidate(states, costs,
                         _stack([_rows(self.val[small], head), _rows(self.val[large], tail)]),
                         _stack([_rows(self.test[small], head), _rows(self.test[large], tail)]))

    def singles(self):
        return [self.single(r) for r in self.sizes]

    def crosses(self):
        k = self.num_exits
        return [self.cross(s, m, big, j) for s in self.sizes for big in self.sizes if big > s
                for m in range(k) for j in range(k)]


@dataclasses.dataclass(frozen=True)
class Choice:
    """The candidate chosen for a budget and its `BudgetResult` (point, costs)."""

    candidate: Candidate
    result: budgets.BudgetResult

    @property
    def resolution(self):
        return self.candidate.resolution


def choose(candidates, metric, value):
    """The candidate and thresholds with the best hold-out accuracy within the budget.

    Candidates whose first exit already costs more than the budget are skipped;
    EvaluationError when none fits. Ties go to the cheaper hold-out cost, then
    to the earlier candidate (larger sides first).
    """
    best = None
    for c in candidates:
        if value < c.costs[0]:
            continue
        budget = budgets.Budget(metric, float(value), c.costs)
        result = budgets.search_budget(budget, c.val, c.test)
        key = (result.point.val.accuracy, -result.val_cost)
        if best is None or key > best[0]:
            best = (key, Choice(c, result))
    if best is None:
        cheapest = min(candidates, key=lambda c: c.costs[0])
        unit = budgets.UNITS[metric]
        r, k = cheapest.states[0]
        raise EvaluationError(f"a budget of {value:g} {unit} per image is below the cheapest "
                              f"exit ({r}x{r} exit_{k}: {cheapest.costs[0]:g} {unit}): no "
                              "setting can meet it")
    return best[1]


def curve_points(candidate, num_q=39):
    """The paper's q points of one candidate: (q, val cost, val acc, test cost, test acc)."""
    finder = budgeted.ThresholdFinder(candidate.val.max_prob)
    out = []
    for q in budgeted.paper_q_values(num_q) + [math.inf]:
        p = budgeted.evaluate_q(finder, candidate.val, candidate.test, q)
        out.append((p, p.val.expected_cost(candidate.costs), p.val.accuracy,
                    p.test.expected_cost(candidate.costs), p.test.accuracy))
    return out


def envelope(candidates, num_q=39):
    """The hold-out Pareto front over every candidate's q points.

    A point is kept when no point of lower or equal hold-out cost has a higher
    hold-out accuracy: for every budget, the best point within it is on the
    front. Returns [(candidate name, resolution, q, val cost, val accuracy,
    test cost, test accuracy)] by increasing hold-out cost.
    """
    points = sorted(((c, row) for c in candidates for row in curve_points(c, num_q)),
                    key=lambda cr: (cr[1][1], -cr[1][2]))
    front, best = [], -1.0
    for c, (p, val_cost, val_acc, test_cost, test_acc) in points:
        if val_acc > best:
            best = val_acc
            front.append((c.name, c.resolution, p.q, val_cost, val_acc, test_cost, test_acc))
    return front


def anytime_table(space):
    """[{resolution, exit, top1, topk, cumulative_flops, cumulative_params}] on the test set."""
    rows = []
    for r in space.sizes:
        data = space.sets[r]
        params = None if data.exit_params is None else data.exit_params.tolist()
        for e in anytime.anytime_results(space.test[r], list(space.flops[r]), params):
            rows.append({"resolution": r, "exit": e.exit, "top1": e.top1, f"top{e.k}": e.top_k,
                         "cumulative_flops": e.flops, "cumulative_params": e.params})
    return rows


def load_latency_by_resolution(path, sizes, num_exits):
    """{r: path_ms per exit} of a latency file with one entry per resolution.

    The file is `tflite/benchmark.py`'s for a switchable model: its top level
    times the largest side and `resolutions` lists every side's timings.
    """
    from msdnet_tf.evaluation.common import read_json

    data = read_json(path, "latency file")
    entries = data.get("resolutions")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise EvaluationError(f"latency file {path} has no per-resolution timings ('resolutions'"
                              "): benchmark the converted switchable model with "
                              "tflite/benchmark.py")
    found = {}
    for e in entries:
        r = e.get("resolution")
        profile = budgets.latency_from_dict({**data, **e}, f"{path} (resolution {r})", num_exits)
        found[r] = profile.path_ms
    missing = [r for r in sizes if r not in found]
    if missing:
        raise EvaluationError(f"latency file {path} has no timings for resolution(s) "
                              f"{', '.join(map(str, missing))} (it has "
                              f"{', '.join(map(str, found))})")
    return {r: found[r] for r in sizes}

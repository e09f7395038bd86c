"""Budgeted batch (dynamic) evaluation, as in the spec's "Evaluation" section.

For an exit-share parameter q the K exits get shares p_k = q^k / sum_j q^j
(k = 1..K). On the hold-out, exit k takes n_k = floor(N_val * p_k) samples:
walking the not-yet-exited samples in descending order of their max softmax
probability at exit k, the threshold T_k is the probability of the n_k-th one
(+inf when n_k = 0 or fewer remain), and every sample with probability >= T_k
exits there (so ties may take more than n_k). T_K = -inf. A sample, hold-out or
test, leaves at the first exit k with max-probability_k >= T_k.

n_k is computed in exact rational arithmetic: floor(5000 * 0.3) must not become
1499 because 0.3 is not a binary float. The paper's q = m/20 are kept as exact
fractions for the same reason.
"""

import dataclasses
import math
from fractions import Fraction

import numpy as np


def paper_q_values(num_q=39):
    """The paper's exit-share family q = 1/20, 2/20, ..., num_q/20 (exact)."""
    return [Fraction(m, 20) for m in range(1, num_q + 1)]


def exit_counts(num_samples, num_exits, q):
    """n_k = floor(num_samples * p_k) for the first K-1 exits (the last takes the rest).

    `q` is a non-negative number or math.inf. The limits are included:
    q = 0 gives p_1 = 1 (n_1 = N: every hold-out sample leaves at exit_0, T_1 is
    their lowest max-probability), q = inf gives p_K = 1 (T_k = inf for k < K).
    """
    if isinstance(q, float) and math.isnan(q) or q < 0:
        raise ValueError(f"q must be >= 0 or inf. Received: q={q}")
    if num_exits == 1:
        return []
    if q == 0:
        return [num_samples] + [0] * (num_exits - 2)
    if q == math.inf:
        return [0] * (num_exits - 1)
    q = Fraction(q)
    weights = [q**k for k in range(1, num_exits + 1)]
    total = sum(weights)
    return [math.floor(num_samples * w / total) for w in weights[:-1]]


class ThresholdFinder:
    """Finds the spec's thresholds on a hold-out; argsorts are computed once.

    max_prob: float [K, N], the hold-out's max softmax probability per exit.
    """

    def __init__(self, max_prob):
        self.max_prob = np.asarray(max_prob, dtype=np.float64)
        # Descending order per exit; order among equal values is irrelevant
        # because T_k is a value, and every sample >= T_k exits.
        self._order = [np.argsort(-p, kind="stable") for p in self.max_prob[:-1]]

    def thresholds(self, q):
        """T_1..T_K (float64 [K]) for exit-share parameter `q`."""
        num_exits, n = self.max_prob.shape
        thresholds = np.full(num_exits, np.inf)
        thresholds[-1] = -np.inf
        exited = np.zeros(n, bool)
        for k, n_k in enumerate(exit_counts(n, num_exits, q)):
            if n_k == 0:
                continue
            order = self._order[k]
            remaining = order[~exited[order]]
            if remaining.size < n_k:
                continue
            thresholds[k] = self.max_prob[k, remaining[n_k - 1]]
            exited |= self.max_prob[k] >= thresholds[k]
        return thresholds


def assign_exits(max_prob, thresholds):
    """Exit index (int64 [N]) of each sample: the first k with max_prob[k] >= T_k."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds[-1] != -np.inf:
        raise ValueError(f"the last threshold must be -inf. Received: {thresholds[-1]}")
    reached = np.asarray(max_prob) >= thresholds[:, None]
    return reached.argmax(axis=0)


@dataclasses.dataclass(frozen=True)
class SplitOutcome:
    """Where the samples of one split exit, and how many are right (top-1)."""

    counts: tuple
    correct: int

    @property
    def num_samples(self):
        return sum(self.counts)

    @property
    def accuracy(self):
        """Top-1 accuracy in percent at the exit taken."""
        return 100.0 * self.correct / self.num_samples

    @property
    def fractions(self):
        return tuple(c / self.num_samples for c in self.counts)

    def expected_cost(self, costs):
        """sum_k (share exiting at k) * cost of exit k (costs are cumulative).

        Summed with math.fsum (correctly rounded), so the figure does not depend
        on summation order or Python version.
        """
        if len(costs) != len(self.counts):
            raise ValueError(f"need one cost per exit ({len(self.counts)}). Received: {costs}")
        return math.fsum(share * float(cost) for share, cost in zip(self.fractions, costs))


def split_outcome(scores, thresholds):
    """Applies `thresholds` to an `ExitScores`; returns its `SplitOutcome`."""
    exits = assign_exits(scores.max_prob, thresholds)
    counts = np.bincount(exits, minlength=scores.num_exits)
    correct = scores.correct[exits, np.arange(scores.num_samples)]
    return SplitOutcome(counts=tuple(int(c) for c in counts), correct=int(correct.sum()))


@dataclasses.dataclass(frozen=True)
class BudgetedPoint:
    """One point of the budgeted curve: q, its hold-out thresholds, both outcomes."""

    q: object
    thresholds: tuple
    val: SplitOutcome
    test: SplitOutcome


def evaluate_q(finder, val_scores, test_scores, q):
    """Thresholds for `q` from the hold-out, applied to hold-out and test."""
    thresholds = finder.thresholds(q)
    return BudgetedPoint(
        q=q, thresholds=tuple(float(t) for t in thresholds),
        val=split_outcome(val_scores, thresholds), test=split_outcome(test_scores, thresholds),
    )


def budgeted_curve(val_scores, test_scores, num_q=39, finder=None):
    """The paper's budgeted curve: one `BudgetedPoint` per q = m/20, m = 1..num_q."""
    if val_scores.num_exits != test_scores.num_exits:
        raise ValueError(
            f"hold-out and test scores disagree on the number of exits. "
            f"Received: {val_scores.num_exits} and {test_scores.num_exits}"
        )
    finder = finder or ThresholdFinder(val_scores.max_prob)
    return [evaluate_q(finder, val_scores, test_scores, q) for q in paper_q_values(num_q)]

"""Budgeted batch evaluation: hand-made cases, the spec's edge cases, and a
property test against the literal implementation in literal.py."""

import math
from fractions import Fraction

import numpy as np
import pytest

from msdnet_tf.evaluation import budgeted, scores

from . import literal
from .helpers import random_logits, scores_from_probs

INF = math.inf


def test_paper_q_values_are_exact_twentieths():
    qs = budgeted.paper_q_values()
    assert len(qs) == 39
    assert qs[0] == Fraction(1, 20) and qs[-1] == Fraction(39, 20)
    assert budgeted.paper_q_values(5) == qs[:5]


def test_exit_counts_equal_shares_and_exact_floor():
    assert budgeted.exit_counts(5000, 10, Fraction(1)) == [500] * 9
    # p_1 = 1 / (1 + q) = 0.3 exactly for q = 7/3: floor(5000 * 0.3) is 1500,
    # which float arithmetic (5000 * 0.3 = 1499.999...) would get wrong.
    assert budgeted.exit_counts(5000, 2, Fraction(7, 3)) == [1500]
    # q = 1/20, K = 3: p = (400, 20, 1) / 421.
    assert budgeted.exit_counts(10, 3, Fraction(1, 20)) == [9, 0]
    assert budgeted.exit_counts(100, 3, Fraction(1, 20)) == [95, 4]


def test_exit_counts_limits_and_single_exit():
    assert budgeted.exit_counts(7, 4, 0) == [7, 0, 0]
    assert budgeted.exit_counts(7, 4, math.inf) == [0, 0, 0]
    assert budgeted.exit_counts(7, 1, Fraction(1, 2)) == []
    with pytest.raises(ValueError, match="q must be"):
        budgeted.exit_counts(7, 3, -1)
    with pytest.raises(ValueError, match="q must be"):
        budgeted.exit_counts(7, 3, math.nan)


def test_hand_made_thresholds_and_exits():
    # K = 3, N = 9, q = 1: n_1 = n_2 = 3.
    p1 = [0.95, 0.90, 0.85, 0.80, 0.75, 0.70, 0.65, 0.60, 0.55]
    p2 = [0.99, 0.98, 0.97, 0.50, 0.60, 0.70, 0.80, 0.40, 0.30]
    p3 = [0.5] * 9
    finder = budgeted.ThresholdFinder([p1, p2, p3])
    t = finder.thresholds(Fraction(1))
    # Exit 1: the 3rd highest is 0.85 (samples 0-2 leave). Exit 2 skips them:
    # remaining in descending order 0.80 (6), 0.70 (5), 0.60 (4) -> T_2 = 0.60.
    assert t.tolist() == [0.85, 0.60, -INF]
    exits = budgeted.assign_exits(np.array([p1, p2, p3]), t)
    assert exits.tolist() == [0, 0, 0, 2, 1, 1, 1, 2, 2]
    correct = np.zeros((3, 9), bool)
    correct[0, :3] = True   # right at exit 1 for the samples leaving there
    correct[1, 4] = True
    correct[2, :] = True    # the last exit is always right
    out = budgeted.split_outcome(scores_from_probs([p1, p2, p3], correct), t)
    assert out.counts == (3, 3, 3)
    assert out.correct == 3 + 1 + 3
    assert out.expected_cost([10, 20, 40]) == pytest.approx((30 + 60 + 120) / 9)


def test_test_sample_exactly_at_threshold_exits():
    t = np.array([0.5, 0.7, -INF])
    exits = budgeted.assign_exits(np.array([[0.5, 0.49, 0.49], [0.0, 0.7, 0.69],
                                            [0.1, 0.1, 0.1]]), t)
    assert exits.tolist() == [0, 1, 2]


def test_n_k_zero_gives_infinite_threshold():
    # K = 3, N = 10, q = 1/20: n = [9, 0]; nobody may exit at exit 2 however
    # confident it is.
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 0.9, (3, 10))
    p[1] = 1.0
    t = budgeted.ThresholdFinder(p).thresholds(Fraction(1, 20))
    assert t[1] == INF and t[2] == -INF
    assert t[0] == np.sort(p[0])[::-1][8]
    assert (budgeted.assign_exits(p, t) != 1).all()


def test_ties_take_everyone_at_the_threshold_and_starve_the_next_exit():
    # K = 3, N = 6, q = 1: n_1 = n_2 = 2. At exit 1 four samples tie at 0.8:
    # T_1 = 0.8 (the 2nd sample's value) and all of them (>= T_1) exit, five
    # in total. One sample remains, fewer than n_2 = 2: T_2 = +inf, nobody
    # reaches exit 2, even the remaining one with probability 0.99.
    p1 = [0.9, 0.8, 0.8, 0.8, 0.8, 0.5]
    p2 = [0.1, 0.1, 0.1, 0.1, 0.1, 0.99]
    p = np.array([p1, p2, [0.3] * 6])
    t = budgeted.ThresholdFinder(p).thresholds(Fraction(1))
    assert t.tolist() == [0.8, INF, -INF]
    out = budgeted.split_outcome(scores_from_probs(p), t)
    assert out.counts == (5, 0, 1)


def test_ties_spanning_the_n_k_th_sample_exit_together():
    # n_1 = 2 (q = 1, K = 2, N = 5 -> floor(2.5)); the 2nd and 3rd tie.
    p = np.array([[0.9, 0.7, 0.7, 0.6, 0.2], [0.5] * 5])
    t = budgeted.ThresholdFinder(p).thresholds(Fraction(1))
    assert t.tolist() == [0.7, -INF]
    assert np.bincount(budgeted.assign_exits(p, t)).tolist() == [3, 2]


def test_already_exited_samples_are_skipped_when_counting():
    # K = 3, N = 4, q = 1: n = [1, 1]. Sample 0 leaves at exit 1; at exit 2 it
    # has the top probability but is skipped, so T_2 is sample 1's 0.6.
    p = np.array([[0.9, 0.2, 0.3, 0.1], [0.99, 0.6, 0.5, 0.4], [0.1] * 4])
    t = budgeted.ThresholdFinder(p).thresholds(Fraction(1))
    assert t.tolist() == [0.9, 0.6, -INF]


def test_single_exit_model():
    p = np.array([[0.2, 0.9]])
    t = budgeted.ThresholdFinder(p).thresholds(Fraction(1, 2))
    assert t.tolist() == [-INF]
    assert budgeted.assign_exits(p, t).tolist() == [0, 0]


def test_limits_q_zero_and_inf():
    p = np.random.default_rng(1).uniform(0.1, 1.0, (4, 50))
    finder = budgeted.ThresholdFinder(p)
    everyone_first = budgeted.assign_exits(p, finder.thresholds(0))
    assert (everyone_first == 0).all()
    assert (budgeted.assign_exits(p, finder.thresholds(math.inf)) == 3).all()


def _curve(seed, num_exits, n_val, n_test, num_classes, duplicates, num_q=39):
    rng = np.random.default_rng(seed)
    val, val_labels = random_logits(rng, num_exits, n_val, num_classes, duplicates)
    test, test_labels = random_logits(rng, num_exits, n_test, num_classes, duplicates)
    flops = np.cumsum(rng.integers(1_000_000, 50_000_000, num_exits)).astype(np.float64)
    val_s = scores.exit_scores(val, val_labels)
    test_s = scores.exit_scores(test, test_labels)
    fast = budgeted.budgeted_curve(val_s, test_s, num_q=num_q)
    slow = literal.literal_curve(val, val_labels, test, test_labels, flops, num_q=num_q)
    return fast, slow, flops


@pytest.mark.parametrize("seed", range(60))
def test_curve_equals_literal_implementation(seed):
    rng = np.random.default_rng(1000 + seed)
    num_exits = int(rng.integers(1, 7))
    n_val, n_test = int(rng.integers(1, 400)), int(rng.integers(1, 300))
    num_classes = int(rng.integers(2, 30))
    duplicates = int(rng.integers(0, n_val // 2 + 1))
    fast, slow, flops = _curve(seed, num_exits, n_val, n_test, num_classes, duplicates)
    assert len(fast) == len(slow) == 39
    for f, s in zip(fast, slow):
        assert float(f.q) == s["q"]
        # Max-probabilities are computed independently (different summation
        # order), so thresholds agree to rounding; everything else exactly.
        for a, b in zip(f.thresholds, s["thresholds"]):
            assert a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
        assert list(f.val.counts) == s["val_counts"]
        assert list(f.test.counts) == s["test_counts"]
        assert f.val.accuracy == s["val_accuracy"]
        assert f.test.accuracy == s["test_accuracy"]
        assert f.test.expected_cost(flops) == s["expected_flops"]


@pytest.mark.parametrize("seed", range(30))
def test_threshold_finder_equals_literal_on_heavy_ties(seed):
    # Max-probabilities from a handful of values: ties everywhere, many exits
    # starved. Same inputs for both implementations, so results are identical.
    rng = np.random.default_rng(seed)
    num_exits, n = int(rng.integers(2, 7)), int(rng.integers(1, 80))
    levels = rng.choice(np.linspace(0.1, 1.0, 10), size=int(rng.integers(1, 6)), replace=False)
    p = rng.choice(levels, size=(num_exits, n))
    finder = budgeted.ThresholdFinder(p)
    for m in range(1, 40):
        counts = literal.shares_counts(n, num_exits, m)
        expected = literal.thresholds_from_max_probs(p.tolist(), counts)
        assert finder.thresholds(Fraction(m, 20)).tolist() == expected


def test_expected_flops_grow_with_q():
    rng = np.random.default_rng(7)
    val, val_labels = random_logits(rng, 5, 3000, 10)
    test, test_labels = random_logits(rng, 5, 3000, 10)
    flops = np.cumsum([10e6, 12e6, 15e6, 20e6, 30e6])
    curve = budgeted.budgeted_curve(scores.exit_scores(val, val_labels),
                                    scores.exit_scores(test, test_labels))
    val_cost = [p.val.expected_cost(flops) for p in curve]
    test_cost = [p.test.expected_cost(flops) for p in curve]
    assert all(a < b for a, b in zip(val_cost, val_cost[1:]))
    assert all(a <= b for a, b in zip(test_cost, test_cost[1:]))
    assert flops[0] < val_cost[0] and val_cost[-1] < flops[-1]


def test_mismatched_exit_counts_are_rejected():
    a = scores_from_probs(np.full((2, 3), 0.5))
    b = scores_from_probs(np.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="number of exits"):
        budgeted.budgeted_curve(a, b)

"""Budget search (FLOPs and latency) and latency files."""

import json
import math

import numpy as np
import pytest

from msdnet_tf.evaluation import EvaluationError, budgeted, budgets, scores

from .helpers import random_logits

FLOPS = [10e6, 22e6, 37e6, 55e6, 80e6]


@pytest.fixture(scope="module")
def split_scores():
    rng = np.random.default_rng(3)
    val, val_labels = random_logits(rng, 5, 1500, 10)
    test, test_labels = random_logits(rng, 5, 1200, 10)
    return scores.exit_scores(val, val_labels), scores.exit_scores(test, test_labels)


def _val_cost(finder, val, q, costs):
    return budgeted.split_outcome(val, finder.thresholds(q)).expected_cost(costs)


@pytest.mark.parametrize("budget", [10.5e6, 18e6, 30e6, 41.3e6, 60e6, 79e6])
def test_flops_budget_is_met_with_the_largest_cost(split_scores, budget):
    val, test = split_scores
    result = budgets.search_budget(budgets.flops_budget(budget, FLOPS), val, test)
    assert result.binding
    assert result.val_cost <= budget
    assert result.val_cost == result.point.val.expected_cost(FLOPS)
    assert result.test_cost == result.point.test.expected_cost(FLOPS)
    # No q of a dense independent scan fits the budget with a larger cost.
    finder = budgeted.ThresholdFinder(val.max_prob)
    scan = [_val_cost(finder, val, q, FLOPS) for q in np.geomspace(1e-4, 1e4, 1500)]
    assert max(c for c in scan if c <= budget) <= result.val_cost
    # The crossing was refined: the achieved figure is close to the budget.
    assert budget - result.val_cost < 0.01 * budget


def test_budget_at_first_exit_cost_puts_everyone_there(split_scores):
    val, test = split_scores
    result = budgets.search_budget(budgets.flops_budget(FLOPS[0], FLOPS), val, test)
    assert result.point.q == 0
    assert result.val_cost == FLOPS[0]
    assert result.point.val.counts[0] == val.num_samples
    # n_1 = N: T_1 is the hold-out's lowest max-probability; test samples below
    # it have T_2..T_{K-1} = inf ahead of them and go to the last exit.
    t = result.point.thresholds
    assert t[0] == val.max_prob[0].min() and t[1:-1] == (math.inf,) * 3
    below = int((test.max_prob[0] < t[0]).sum())
    assert result.point.test.counts == (test.num_samples - below, 0, 0, 0, below)


def test_budget_below_first_exit_is_an_error():
    with pytest.raises(EvaluationError, match=r"below the cost of exit_0 \(10.00M FLOPs\)"):
        budgets.flops_budget(9e6, FLOPS)
    with pytest.raises(EvaluationError, match="positive"):
        budgets.flops_budget(-1, FLOPS)
    with pytest.raises(EvaluationError, match="positive"):
        budgets.flops_budget(math.nan, FLOPS)


@pytest.mark.parametrize("budget", [FLOPS[-1], 1e12])
def test_budget_above_last_exit_takes_best_holdout_accuracy(split_scores, budget):
    val, test = split_scores
    result = budgets.search_budget(budgets.flops_budget(budget, FLOPS), val, test)
    assert not result.binding
    assert "does not bind" in result.note
    finder = budgeted.ThresholdFinder(val.max_prob)
    candidates = budgeted.paper_q_values() + [math.inf]
    accuracies = [budgeted.split_outcome(val, finder.thresholds(q)).accuracy for q in candidates]
    assert result.point.val.accuracy == max(accuracies)
    assert result.point.q in candidates
    assert result.val_cost <= FLOPS[-1]


def _latency_file(tmp_path, path_ms, **extra):
    data = {"device": "x86", "threads": 1, "mode": "int8",
            "exits": [{"exit": k, "stage_ms": 1.0, "path_ms": ms, "truncated_ms": ms}
                      for k, ms in enumerate(path_ms)]}
    data.update(extra)
    path = tmp_path / "latency.json"
    path.write_text(json.dumps(data))
    return path


def test_latency_budget_uses_path_ms(tmp_path, split_scores):
    val, test = split_scores
    path_ms = [1.5, 2.9, 4.2, 6.0, 8.1]
    profile = budgets.load_latency(_latency_file(tmp_path, path_ms), num_exits=5)
    assert profile.path_ms == tuple(path_ms) and profile.device == "x86"
    budget = budgets.latency_budget(4.0, profile)
    result = budgets.search_budget(budget, val, test)
    assert result.val_cost <= 4.0 and 4.0 - result.val_cost < 0.05
    assert result.val_cost == result.point.val.expected_cost(path_ms)
    record = budgets.budget_record(result, FLOPS)
    assert record["metric"] == "latency_ms" and record["unit"] == "ms"
    assert record["requested"] == 4.0 and record["achieved_val"] == result.val_cost
    assert record["latency"]["device"] == "x86"
    assert record["test_expected_flops"] == result.point.test.expected_cost(FLOPS)
    with pytest.raises(EvaluationError, match="below the cost of exit_0"):
        budgets.latency_budget(1.0, profile)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("exits"), "'exits' must be a non-empty list"),
    (lambda d: d["exits"][1].pop("path_ms"), "path_ms of exit_1 must be a positive number"),
    (lambda d: d["exits"][0].update(path_ms="fast"), "path_ms of exit_0"),
    (lambda d: d["exits"][2].update(exit=5), "exit numbers must be 0..2"),
])
def test_bad_latency_files(tmp_path, change, message):
    path = _latency_file(tmp_path, [1.0, 2.0, 3.0])
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(EvaluationError, match=message) as e:
        budgets.load_latency(path)
    assert str(path) in str(e.value)


def test_latency_file_for_other_model_and_unreadable(tmp_path):
    path = _latency_file(tmp_path, [1.0, 2.0, 3.0])
    with pytest.raises(EvaluationError, match="has 3 exits but the model has 5"):
        budgets.load_latency(path, num_exits=5)
    path.write_text("{not json")
    with pytest.raises(EvaluationError, match="not valid JSON"):
        budgets.load_latency(path)
    with pytest.raises(EvaluationError, match="does not exist"):
        budgets.load_latency(tmp_path / "missing.json")

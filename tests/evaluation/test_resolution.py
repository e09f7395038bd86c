"""Budgets over the joint (resolution, exit) space, on hand-made logits."""

import json

import numpy as np
import pytest

from msdnet_tf.evaluation import EvaluationError, validate_logits
from msdnet_tf.evaluation import resolution as joint
from msdnet_tf.evaluation import resolution_report

N = 100


def _logits(correct, confidence):
    """[N, 2] logits, label 0: max-probability `confidence`, right where `correct`."""
    c = np.asarray(confidence, np.float64) * np.ones(N)
    right = np.stack([np.log(c), np.log(1 - c)], 1)
    return np.where(np.asarray(correct)[:, None], right, right[:, ::-1]).astype(np.float32)


def _set(exits, flops):
    logits = np.stack(exits)
    labels = np.zeros(N, np.int64)
    return validate_logits(dict(val_logits=logits, val_labels=labels, test_logits=logits,
                                test_labels=labels, exit_cumulative_flops=np.asarray(flops)))


HALF = np.arange(N) < 50


@pytest.fixture(scope="module")
def space():
    # 32x32: exit_0 is right on 60% with one confidence for all (a threshold takes all or
    # none), exit_1 always right; costs 10, 20.
    big = _set([_logits(np.arange(N) < 60, 0.6), _logits(np.ones(N, bool), 0.99)], [10, 20])
    # 16x16: both exits right and sure (0.99) on the first half, wrong and unsure (0.55)
    # on the rest; costs 3, 6.
    conf = np.where(HALF, 0.99, 0.55)
    small = _set([_logits(HALF, conf), _logits(HALF, conf)], [3, 6])
    return joint.JointSpace({32: big, 16: small})


def test_a_budget_only_the_small_side_meets_picks_it(space):
    choice = joint.choose(space.singles(), "flops", 8)
    assert choice.resolution == 16 and choice.result.point.val.accuracy == 50.0


def test_the_envelope_takes_the_side_with_the_best_holdout_accuracy(space):
    choice = joint.choose(space.singles(), "flops", 14)
    assert choice.resolution == 32  # 60% at 10 beats 50% at 6
    assert choice.result.point.val.accuracy == 60.0 and choice.result.val_cost == 10
    assert joint.choose(space.singles(), "flops", 25).result.point.val.accuracy == 100.0


def test_a_cross_resolution_cascade_can_beat_the_envelope(space):
    # The sure half leaves at 16x16 exit_0 (cost 3), the rest runs 32x32 to exit_1
    # (3 + 20): 100% at 13 FLOPs on average.
    choice = joint.choose(space.crosses(), "flops", 14)
    assert choice.candidate.name == "16:exit_0 -> 32:exit_1"
    assert choice.resolution is None
    assert choice.result.point.val.accuracy == 100.0 and choice.result.val_cost == 13
    assert choice.candidate.costs == (3, 23)


def test_a_budget_below_every_first_exit_is_an_error(space):
    with pytest.raises(EvaluationError, match=r"below the cheapest exit \(16x16 exit_0: 3 FLOPs\)"):
        joint.choose(space.singles(), "flops", 2)


def test_latency_costs_replace_flops(space, tmp_path):
    latency = {"device": "test", "threads": 1, "mode": "float", "exits": [
        {"exit": 0, "path_ms": 1.0}, {"exit": 1, "path_ms": 2.0}],
        "resolutions": [{"resolution": 32, "exits": [{"exit": 0, "path_ms": 1.0},
                                                     {"exit": 1, "path_ms": 2.0}]},
                        {"resolution": 16, "exits": [{"exit": 0, "path_ms": 0.9},
                                                     {"exit": 1, "path_ms": 1.8}]}]}
    path = tmp_path / "latency.json"
    path.write_text(json.dumps(latency))
    costs = joint.load_latency_by_resolution(path, [32, 16], 2)
    assert costs == {32: (1.0, 2.0), 16: (0.9, 1.8)}
    # 1.5 ms: 32x32 fits only at exit_0 (60%); 16x16 fits entirely (50%).
    choice = joint.choose(space.with_costs(costs).singles(), "latency_ms", 1.5)
    assert choice.resolution == 32 and choice.result.val_cost == 1.0
    assert joint.choose(space.with_costs(costs).singles(), "latency_ms", 0.95).resolution == 16
    del latency["resolutions"][1]
    path.write_text(json.dumps(latency))
    with pytest.raises(EvaluationError, match="no timings for resolution"):
        joint.load_latency_by_resolution(path, [32, 16], 2)
    del latency["resolutions"]
    path.write_text(json.dumps(latency))
    with pytest.raises(EvaluationError, match="no per-resolution timings"):
        joint.load_latency_by_resolution(path, [32, 16], 2)


def test_logits_of_other_images_are_refused(space):
    other = _set([_logits(HALF, 0.9)] * 2, [3, 6])
    other = validate_logits(dict(val_logits=other.val_logits, val_labels=np.ones(N, np.int64),
                                 test_logits=other.test_logits, test_labels=other.test_labels,
                                 exit_cumulative_flops=other.exit_flops))
    with pytest.raises(EvaluationError, match="not of the same model and images"):
        joint.JointSpace({32: space.sets[32], 16: other})


def test_report_and_plot(space, tmp_path):
    report = resolution_report.report_json(space, model="abc", num_q=20)
    assert [a["resolution"] for a in report["anytime"]] == [32, 32, 16, 16]
    assert [c["resolution"] for c in report["budgeted"]] == [32, 16]
    assert len(report["budgeted"][0]["points"]) == 20
    assert [row["fraction"] for row in report["at_fractions"]] == [0.1, 0.2, 0.3, 0.5]
    assert "error" in report["at_fractions"][0]["envelope"]  # 2 FLOPs: no side fits
    half = report["at_fractions"][3]
    assert half["budget_flops"] == 10
    assert half["largest"]["test_accuracy"] == 60.0 and half["envelope"]["resolution"] == 32
    # The sure half leaves at 16x16 exit_0 (3), the rest at 32x32 exit_0 (3 + 10): 60% at 8.
    assert half["cross"]["test_accuracy"] == 60.0 and half["cross"]["test_cost"] == 8
    for key in ("envelope", "envelope_with_cross"):  # Pareto fronts on the hold-out
        front = report[key]
        assert [e["val_expected_flops"] for e in front] == sorted(
            e["val_expected_flops"] for e in front)
        assert all(a["val_accuracy"] < b["val_accuracy"] for a, b in zip(front, front[1:]))
    assert report["envelope_with_cross"][-1]["val_accuracy"] == 100.0
    assert any(e["resolution"] is None for e in report["envelope_with_cross"])  # a cross path
    paths = resolution_report.write(report, tmp_path)
    assert paths["resolutions.png"].stat().st_size > 0
    assert json.loads(paths["resolutions.json"].read_text())["model"] == "abc"
    assert "16x16" in resolution_report.format_tables(report)

"""Softmax scores and anytime results."""

import numpy as np
import pytest

from msdnet_tf.evaluation import anytime_results, exit_scores, max_softmax


def test_max_softmax_is_stable_and_exact():
    z = np.array([[1000.0, 999.0, -1000.0], [-1e4, -1e4, -1e4], [0.0, 0.0, np.log(2.0)]])
    p = max_softmax(z)
    assert np.isfinite(p).all()
    assert p[0] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-15)
    assert p[1] == pytest.approx(1 / 3, rel=1e-15)
    assert p[2] == pytest.approx(0.5, rel=1e-15)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((50, 20)).astype(np.float32)
    e = np.exp(z.astype(np.float64))
    np.testing.assert_allclose(max_softmax(z), (e / e.sum(1, keepdims=True)).max(1), rtol=1e-14)


def test_exit_scores_top1_topk_and_chunking():
    logits = np.array([[[5, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5], [1, 1, 0, 0, 0, 0]]],
                      np.float32)
    labels = np.array([0, 0, 1])
    s = exit_scores(logits, labels, top_k=2)
    assert s.prediction.tolist() == [[0, 5, 0]]
    assert s.correct.tolist() == [[True, False, False]]
    # Sample 2: label 1 ties with class 0 for the top logit: within top-2.
    assert s.correct_top_k.tolist() == [[True, False, True]]
    rng = np.random.default_rng(1)
    big = rng.standard_normal((3, 1000, 12)).astype(np.float32)
    y = rng.integers(0, 12, 1000)
    a, b = exit_scores(big, y, chunk_rows=64), exit_scores(big, y, chunk_rows=4096)
    assert np.array_equal(a.max_prob, b.max_prob)
    assert np.array_equal(a.correct_top_k, b.correct_top_k)


def test_anytime_results():
    logits = np.zeros((2, 4, 3), np.float32)
    logits[0, :, 0] = 1          # exit_0 predicts class 0
    logits[1, np.arange(4), [0, 1, 2, 2]] = 1
    s = exit_scores(logits, np.array([0, 1, 2, 0]), top_k=2)
    rows = anytime_results(s, [1e6, 3e6], [10.0, 20.0])
    assert [r.name for r in rows] == ["exit_0", "exit_1"]
    assert [r.top1 for r in rows] == [50.0, 75.0]
    assert [r.top_k for r in rows] == [100.0, 100.0]  # 2-way ties count for the label
    assert [(r.flops, r.params, r.k) for r in rows] == [(1e6, 10.0, 2), (3e6, 20.0, 2)]
    assert anytime_results(s, [1e6, 3e6])[0].params is None
    with pytest.raises(ValueError, match="one FLOPs figure per exit"):
        anytime_results(s, [1e6])

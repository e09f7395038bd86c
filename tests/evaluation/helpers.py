"""Builders shared by the evaluation tests."""

import numpy as np

from msdnet_tf.evaluation.scores import ExitScores


def scores_from_probs(max_prob, correct=None):
    """An ExitScores with chosen max-probabilities (and correctness)."""
    max_prob = np.asarray(max_prob, dtype=np.float64)
    correct = np.ones(max_prob.shape, bool) if correct is None else np.asarray(correct, bool)
    return ExitScores(max_prob=max_prob, prediction=np.zeros(max_prob.shape, np.int64),
                      correct=correct, correct_top_k=correct, top_k=5)


def random_logits(rng, num_exits, n, num_classes, duplicates=0):
    """Logits getting better at later exits; `duplicates` rows are copies of
    other rows (same exit), which makes exact ties in max-probability."""
    labels = rng.integers(0, num_classes, n)
    scale = rng.uniform(0.5, 3.0)
    logits = (rng.standard_normal((num_exits, n, num_classes)) * scale).astype(np.float32)
    for k in range(num_exits):
        logits[k, np.arange(n), labels] += np.float32(0.4 * (k + 1))
    if duplicates and n > 1:
        src = rng.integers(0, n, duplicates)
        dst = rng.integers(0, n, duplicates)
        logits[:, dst] = logits[:, src]
    return logits, labels


def logits_arrays(rng, num_exits=3, n_val=60, n_test=50, num_classes=10):
    """Keyword arguments of save_logits for a small random model."""
    val, val_labels = random_logits(rng, num_exits, n_val, num_classes)
    test, test_labels = random_logits(rng, num_exits, n_test, num_classes)
    flops = np.cumsum(np.arange(1, num_exits + 1) * 1e6)
    return dict(val_logits=val, val_labels=val_labels, test_logits=test,
                test_labels=test_labels, exit_flops=flops)

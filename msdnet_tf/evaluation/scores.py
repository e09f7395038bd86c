"""Per-exit scores computed once from logits: max softmax probability and
top-1 / top-k correctness. Everything downstream (anytime and budgeted
evaluation, budget search) works on these [K, N] arrays, never on logits.
"""

import dataclasses

import numpy as np

# Rows per chunk: a float64 working copy of 1024 x 1000 logits (8 MB) stays in
# cache; larger chunks measured slower.
_CHUNK_ROWS = 1024


@dataclasses.dataclass(frozen=True)
class ExitScores:
    """Scores of K exits on N samples.

    max_prob: float64 [K, N], the largest softmax probability (the confidence the
        budgeted cascade thresholds).
    prediction: int64 [K, N], the predicted class (argmax of the logits, which is
        the argmax of the softmax without rounding in between).
    correct: bool [K, N], prediction == label.
    correct_top_k: bool [K, N], fewer than `top_k` classes have a logit strictly
        larger than the label's (ties count in the label's favour).
    """

    max_prob: np.ndarray
    prediction: np.ndarray
    correct: np.ndarray
    correct_top_k: np.ndarray
    top_k: int

    @property
    def num_exits(self):
        return self.max_prob.shape[0]

    @property
    def num_samples(self):
        return self.max_prob.shape[1]


def max_softmax(logits):
    """Largest softmax probability of each row of `logits` [n, C], in float64.

    Numerically stable: max_j softmax(z)_j = 1 / sum_j exp(z_j - max(z)), so no
    exponent ever overflows and the largest term is exactly 1.
    """
    z = np.array(logits, dtype=np.float64)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    return 1.0 / z.sum(axis=1)


def exit_scores(logits, labels, top_k=5, chunk_rows=_CHUNK_ROWS):
    """Scores of `logits` [K, N, C] against `labels` [N]; see `ExitScores`."""
    logits = np.asarray(logits)
    labels = np.asarray(labels, dtype=np.int64)
    num_exits, n, _ = logits.shape
    max_prob = np.empty((num_exits, n), np.float64)
    prediction = np.empty((num_exits, n), np.int64)
    correct_top_k = np.empty((num_exits, n), bool)
    for k in range(num_exits):
        for start in range(0, n, chunk_rows):
            rows = slice(start, min(start + chunk_rows, n))
            z = logits[k, rows]
            max_prob[k, rows] = max_softmax(z)
            prediction[k, rows] = z.argmax(axis=1)
            label_logit = np.take_along_axis(z, labels[rows, None], axis=1)
            correct_top_k[k, rows] = (z > label_logit).sum(axis=1) < top_k
    return ExitScores(
        max_prob=max_prob, prediction=prediction, correct=prediction == labels[None, :],
        correct_top_k=correct_top_k, top_k=top_k,
    )

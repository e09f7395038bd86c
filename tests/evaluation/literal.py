"""A slow, literal implementation of the spec's budgeted evaluation.

Written from docs/msdnet-spec.md ("Evaluation") alone, sample by sample in plain
Python, sharing no code with msdnet_tf.evaluation: the vectorised version must
agree with it on any logits.
"""

import math


def max_prob(row):
    """Softmax of one logit row, then its largest probability."""
    m = max(float(v) for v in row)
    exps = [math.exp(float(v) - m) for v in row]
    total = 0.0
    for e in exps:
        total += e
    return max(e / total for e in exps)


def argmax(row):
    best = 0
    for j in range(1, len(row)):
        if row[j] > row[best]:
            best = j
    return best


def shares_counts(n, num_exits, m):
    """n_k = floor(n * p_k), p_k = q^k / sum_j q^j with q = m/20, k = 1..K-1.

    With q = m/20: p_k = m^k 20^(K-k) / sum_j m^j 20^(K-j), all integers.
    """
    w = [m**k * 20 ** (num_exits - k) for k in range(1, num_exits + 1)]
    return [n * w[k] // sum(w) for k in range(num_exits - 1)]


def thresholds_from_max_probs(probs, counts):
    """Step 2 of the spec: probs[k][i] is sample i's max-probability at exit k."""
    num_exits, n = len(probs), len(probs[0])
    t = [math.inf] * num_exits
    t[-1] = -math.inf
    exited = [False] * n
    for k in range(num_exits - 1):
        n_k = counts[k]
        if n_k > 0:
            descending = sorted(range(n), key=lambda i: probs[k][i], reverse=True)
            seen = 0
            for i in descending:
                if exited[i]:
                    continue
                seen += 1
                if seen == n_k:
                    t[k] = probs[k][i]
                    break
        for i in range(n):
            if probs[k][i] >= t[k]:
                exited[i] = True
    return t


def run_cascade(probs, preds, labels, t):
    """Step 3: each sample leaves at the first exit with max-probability >= T_k."""
    num_exits = len(t)
    counts, correct = [0] * num_exits, 0
    for i in range(len(labels)):
        for k in range(num_exits):
            if probs[k][i] >= t[k]:
                counts[k] += 1
                correct += int(preds[k][i] == labels[i])
                break
    return counts, correct


def expected(counts, costs):
    n = sum(counts)
    return math.fsum((counts[k] / n) * float(costs[k]) for k in range(len(counts)))


def literal_curve(val_logits, val_labels, test_logits, test_labels, exit_flops, num_q=39):
    """One dict per q = m/20: thresholds, counts, accuracies, expected FLOPs."""
    num_exits = len(val_logits)

    def scores(logits):
        probs = [[max_prob(row) for row in logits[k]] for k in range(num_exits)]
        preds = [[argmax(row) for row in logits[k]] for k in range(num_exits)]
        return probs, preds

    val_probs, val_preds = scores(val_logits)
    test_probs, test_preds = scores(test_logits)
    points = []
    for m in range(1, num_q + 1):
        t = thresholds_from_max_probs(val_probs, shares_counts(len(val_labels), num_exits, m))
        val_counts, val_correct = run_cascade(val_probs, val_preds, val_labels, t)
        test_counts, test_correct = run_cascade(test_probs, test_preds, test_labels, t)
        points.append({
            "q": m / 20, "thresholds": t,
            "val_counts": val_counts, "test_counts": test_counts,
            "val_accuracy": 100.0 * val_correct / len(val_labels),
            "test_accuracy": 100.0 * test_correct / len(test_labels),
            "expected_flops": expected(test_counts, exit_flops),
        })
    return points

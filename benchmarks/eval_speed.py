"""Times the evaluation on ImageNet-sized random logits.

    .venv/bin/python benchmarks/eval_speed.py [--samples 50000] [--classes 1000] [--exits 5]

Hold-out and test set both get `--samples` images (ImageNet: 50,000 each), so
the default holds 2 x 5 x 50,000 x 1,000 float32 logits (2 GB). Prints the time
of each stage: scores (softmax once), anytime, the 39-point budgeted curve, and
a FLOPs-budget search.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from msdnet_tf import evaluation as ev  # noqa: E402


def random_logits(rng, exits, n, classes):
    """Logits whose label class gets more likely at later exits, so that the
    max-probabilities spread out as they do for a trained cascade."""
    labels = rng.integers(0, classes, n)
    logits = rng.standard_normal((exits, n, classes), dtype=np.float32)
    for k in range(exits):
        logits[k, np.arange(n), labels] += 2.0 + 0.5 * k
    return logits, labels


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=50_000)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--exits", type=int, default=5)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    val, val_labels = random_logits(rng, args.exits, args.samples, args.classes)
    test, test_labels = random_logits(rng, args.exits, args.samples, args.classes)
    flops = np.cumsum(np.full(args.exits, 3e8))

    times = {}
    start = t = time.perf_counter()
    val_scores = ev.exit_scores(val, val_labels)
    test_scores = ev.exit_scores(test, test_labels)
    times["scores (softmax, top-1/top-5), both sets"] = time.perf_counter() - t
    t = time.perf_counter()
    ev.anytime_results(test_scores, flops)
    times["anytime"] = time.perf_counter() - t
    t = time.perf_counter()
    finder = ev.ThresholdFinder(val_scores.max_prob)
    curve = ev.budgeted_curve(val_scores, test_scores, num_q=39, finder=finder)
    times[f"budgeted curve, {len(curve)} q values"] = time.perf_counter() - t
    total = time.perf_counter() - start
    t = time.perf_counter()
    result = ev.search_budget(ev.flops_budget(flops.mean(), flops), val_scores, test_scores,
                              finder)
    times[f"FLOPs-budget search ({result.evaluated} settings)"] = time.perf_counter() - t

    print(f"{args.exits} exits, {args.samples} hold-out + {args.samples} test images, "
          f"{args.classes} classes")
    for name, seconds in times.items():
        print(f"  {name:45s} {seconds:7.2f} s")
    print(f"  {'total (scores + anytime + curve)':45s} {total:7.2f} s")


if __name__ == "__main__":
    main()

"""Runs a cascade over many images and builds the harness report."""

import numpy as np

from msdnet_tf.runtime import inputs as inputs_lib
from msdnet_tf.runtime import policy


def run(cascade, items, thresholds, deadline_ms=None, stage_costs_ms=None, warmup=3):
    """Classifies every good item one at a time; returns the report dict.

    Preprocessing happens before timing; `latency_ms` covers the stages and the
    host-side decisions (softmax, threshold test, passing feature maps).
    """
    batch = inputs_lib.preprocess(cascade.manifest, items)
    for i in range(min(warmup, len(batch))):  # first calls allocate; keep them out of the stats
        cascade.classify(batch[i:i + 1], thresholds, deadline_ms, stage_costs_ms)
    samples, row = [], 0
    for item in items:
        if item.error is not None:
            continue
        d = cascade.classify(batch[row:row + 1], thresholds, deadline_ms, stage_costs_ms)
        row += 1
        sample = {"index": item.index, "name": item.name, "exit": d.exit, "pred": d.pred,
                  "confidence": d.confidence, "latency_ms": d.latency_ms}
        if item.label is not None:
            sample["label"] = item.label
        samples.append(sample)
    return build_report(samples, cascade, thresholds, [it.error for it in items if it.error])


def build_report(samples, cascade, thresholds, skipped):
    """The report; without samples its averages are None (JSON has no NaN), and the CLIs
    refuse such a run before it starts."""
    k = cascade.num_exits
    exits = np.array([s["exit"] for s in samples], dtype=np.int64)
    latency = np.array([s["latency_ms"] for s in samples], dtype=np.float64)
    labelled = [s for s in samples if "label" in s]
    flops = np.asarray(cascade.exit_flops, dtype=np.float64)
    return {
        "thresholds": policy.encode(thresholds) if thresholds is not None else None,
        "mode": cascade.manifest["mode"],
        "model": cascade.manifest["model"],
        "accuracy": (100.0 * sum(s["pred"] == s["label"] for s in labelled) / len(labelled)
                     if labelled else None),
        "expected_flops": float(flops[exits].mean()) if len(exits) else None,
        "last_exit_flops": float(flops[-1]),
        "mean_latency_ms": float(latency.mean()) if len(latency) else None,
        "p50_latency_ms": float(np.percentile(latency, 50)) if len(latency) else None,
        "p95_latency_ms": float(np.percentile(latency, 95)) if len(latency) else None,
        "exit_counts": np.bincount(exits, minlength=k).tolist(),
        "skipped": skipped,
        "samples": samples,
    }

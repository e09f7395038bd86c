"""Latency of cascade stages, cascade paths and truncated exit models on LiteRT.

Per exit k: `stage` = stage k alone on cached inputs, `path` = stages 0..k in
sequence with the host passing feature maps (the cost of answering at exit k),
`truncated` = exit_k.tflite. Path and truncated runs are interleaved
repetition by repetition, so machine noise hits both alike and their ratio is
fair. Medians and 95th percentiles in milliseconds.
"""

import os
import platform
import time
from pathlib import Path

import numpy as np

from msdnet_tf.runtime.cascade import Cascade, check_signature, open_interpreter, quantize


def machine():
    """A one-line description of this machine: CPU model, cores, OS, runtime version."""
    from msdnet_tf.machine import cpu_model

    model = cpu_model()
    try:
        from importlib.metadata import version

        litert = f"ai-edge-litert {version('ai-edge-litert')}"
    except Exception:  # noqa: BLE001 - informational only
        litert = "ai-edge-litert"
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, {litert}"


def _stats(samples):
    a = np.asarray(samples, dtype=np.float64)
    return float(np.median(a)), float(np.percentile(a, 95))


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return 1e3 * (time.perf_counter() - t0)


def stage_inputs(cascade, image):
    """The inputs each stage receives when the cascade runs on `image`."""
    feeds, feats = [], {"image": image}
    for k in range(cascade.num_exits):
        feeds.append(feats)
        out = cascade.stage(k, feats)
        out.pop("logits")
        feats = out
    return feeds


def _truncated_runner(models_dir, manifest, k, threads):
    entry = manifest["exits"][k]
    path = Path(models_dir) / entry["file"]
    interp = open_interpreter(path, threads)
    runner = check_signature(interp, entry.get("signature", "serving_default"), entry, path)
    return runner, "image"


def _path(cascade, k, image):
    feats = {"image": image}
    for j in range(k + 1):
        out = cascade.stage(j, feats)
        cascade.logits(j, out)
        out.pop("logits")
        feats = out


def benchmark(models_dir, threads=1, reps=50, warmup=5, image=None, resolution=None):
    """latency.json content (plus sizes) for one converted directory at one thread count
    (and one input side of a resolution-switchable model)."""
    cascade = Cascade.load(models_dir, threads=threads, resolution=resolution)
    m = cascade.manifest
    if image is None:
        image = np.random.default_rng(0).normal(size=m["input"]["shape"]).astype(np.float32)
    feeds = stage_inputs(cascade, image)
    exits = []
    for k in range(cascade.num_exits):
        runner, name = _truncated_runner(models_dir, m, k, threads)
        quant = m["input"].get("quantization")
        x = image if quant is None else quantize(image, quant)
        for _ in range(warmup):
            cascade.stage(k, feeds[k])
            _path(cascade, k, image)
            runner(**{name: x})
        stage, path, trunc = [], [], []
        for _ in range(reps):
            stage.append(_timed(lambda: cascade.stage(k, feeds[k])))
            path.append(_timed(lambda: _path(cascade, k, image)))
            trunc.append(_timed(lambda: runner(**{name: x})))
        (s50, s95), (p50, p95), (t50, t95) = _stats(stage), _stats(path), _stats(trunc)
        exits.append({"exit": k, "stage_ms": s50, "stage_p95_ms": s95, "path_ms": p50,
                      "path_p95_ms": p95, "truncated_ms": t50, "truncated_p95_ms": t95,
                      "truncated_bytes": (Path(models_dir) / m["exits"][k]["file"]).stat().st_size,
                      "cumulative_flops": m["exits"][k]["cumulative_flops"]})
    return {"device": machine(), "threads": threads, "mode": m["mode"], "model": m["model"],
            "reps": reps, "cascade_bytes": (Path(models_dir) / m["cascade"]["file"]).stat().st_size,
            "resolution": m["input"]["shape"][1], "exits": exits}


def benchmark_resolutions(models_dir, threads=1, reps=50, warmup=5):
    """latency.json content of every input side: the largest at the top level, every side
    (the largest too) under `resolutions` (docs/deployment-format.md)."""
    from msdnet_tf.runtime.manifest import load_manifest, resolutions

    sizes = resolutions(load_manifest(models_dir))
    per = [benchmark(models_dir, threads, reps, warmup, resolution=r) for r in sizes]
    if len(per) == 1:
        return per[0]
    keep = ("resolution", "cascade_bytes", "exits")
    return {**per[0], "resolutions": [{k: lat[k] for k in keep} for lat in per]}


def find_model_dirs(root):
    """`root` itself if it holds a manifest.json, else its sub-directories that do."""
    root = Path(root)
    if (root / "manifest.json").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if (p / "manifest.json").is_file()) \
        if root.is_dir() else []


def ratios(latency):
    """The targets: path to the last exit vs truncated, and the worst truncated advantage."""
    ex = latency["exits"]
    return {
        "last_path_over_truncated": ex[-1]["path_ms"] / ex[-1]["truncated_ms"],
        "max_truncated_advantage": max(1 - e["truncated_ms"] / e["path_ms"] for e in ex),
    }


def cascade_overhead(report, latency):
    """Measured mean cascade latency over sum_k share_k * path_ms[k] (1.0 = no overhead)."""
    counts = np.asarray(report["exit_counts"], dtype=np.float64)
    path = np.asarray([e["path_ms"] for e in latency["exits"]])
    expected = float((counts / counts.sum()) @ path)
    return report["mean_latency_ms"] / expected, expected


def plot_accuracy_latency(path, latency, logits_file=None, measured=None):
    """Accuracy against expected latency: the budgeted curve costed with path_ms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from msdnet_tf import evaluation as ev

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    costs = [e["path_ms"] for e in latency["exits"]]
    if logits_file is not None:
        data = ev.load_logits(logits_file)
        result = ev.evaluate_logits(data)
        ax.plot([p.test.expected_cost(costs) for p in result.curve],
                [p.test.accuracy for p in result.curve], ".-", label="cascade, q = 1/20 ... 39/20")
        ax.plot([e["truncated_ms"] for e in latency["exits"]], [a.top1 for a in result.anytime],
                "x", label="truncated exit models")
    if measured is not None:
        ax.plot([measured["mean_latency_ms"]], [measured["accuracy"]], "*", markersize=14,
                label="harness run (measured)")
    ax.set_xlabel(f"latency per image (ms, {latency['threads']} thread(s), {latency['mode']})")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title("Cascaded early exit: accuracy against latency")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # nothing to label without logits or a harness run
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    from msdnet_tf.workdir import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)

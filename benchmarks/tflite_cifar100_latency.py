"""Batch-1 LiteRT latency of the CIFAR-100 anytime MSDNet (the paper's network), float and int8.

    python benchmarks/tflite_cifar100_latency.py --threads 1 2

Builds configs/cifar100_anytime.yaml with its initial weights (latency does not
depend on the weights; CIFAR-100 is not available offline), lets BatchNorm see
a few batches so activations have realistic ranges, converts the truncated
last-exit model and the cascade to float and int8 (calibrated on those
inputs), and times with LiteRT: the last exit alone (exit_9.tflite) and the
cascade path through every stage. The PyTorch port's eager CPU time for all
exits at batch 1 on this kind of machine is 38.8 ms (deployment notes), so the
target for int8 at the last exit on 2 threads is <= 0.25 x 38.8 = 9.7 ms.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

PYTORCH_ALL_EXITS_MS = 38.8


def build_model(calibration):
    from msdnet_tf import config as config_lib
    from msdnet_tf.models import MSDNet

    cfg = config_lib.load_config(Path(__file__).resolve().parents[1] / "configs" /
                                 "cifar100_anytime.yaml")
    model = MSDNet(**config_lib.model_kwargs(cfg))
    for start in range(0, len(calibration), 32):  # settle BN statistics on the inputs
        model(calibration[start:start + 32], training=True)
    return model


def convert_all(model, mode, images, folder):
    from msdnet_tf.export import calibration, convert, graphs

    exit_sig = graphs.exit_signature(model, model.num_exits - 1)
    stage_sigs = graphs.stage_signatures(model)
    samples = calibration.exit_samples(images) if mode == "int8" else None
    stage_samples = calibration.stage_samples(model, images) if mode == "int8" else None
    paths = {"exit": folder / f"{mode}_exit_last.tflite", "cascade": folder / f"{mode}_cascade.tflite"}
    paths["exit"].write_bytes(convert.convert([exit_sig], model.weights, mode, samples))
    paths["cascade"].write_bytes(convert.convert(stage_sigs, model.weights, mode, stage_samples))
    return paths


def time_ms(fn, reps, warmup=10):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(samples)), float(np.percentile(samples, 95))


def measure(paths, num_exits, threads, reps, image):
    from ai_edge_litert.interpreter import Interpreter

    exit_i = Interpreter(model_path=str(paths["exit"]), num_threads=threads)
    exit_run = exit_i.get_signature_runner()
    casc = Interpreter(model_path=str(paths["cascade"]), num_threads=threads)
    stages = [casc.get_signature_runner(f"stage_{k}") for k in range(num_exits)]

    def path():
        feats = {"image": image}
        for runner in stages:
            out = runner(**feats)
            out.pop("logits")
            feats = out

    results = {}
    for name, fn in (("last_exit", lambda: exit_run(image=image)), ("cascade_path", path)):
        results[name] = time_ms(fn, reps)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--reps", type=int, default=100)
    p.add_argument("--calibration", type=int, default=64)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    images = rng.normal(size=(args.calibration, 32, 32, 3)).astype(np.float32)
    model = build_model(images)
    from msdnet_tf import flops
    from msdnet_tf.runtime.benchmark import machine

    total = flops.count(model).exit_cumulative_flops[-1]
    truncated = flops.truncated_flops(model)[-1]
    print(f"machine: {machine()}")
    print(f"CIFAR-100 anytime MSDNet: {total / 1e6:.2f}M FLOPs through all exits, "
          f"{truncated / 1e6:.2f}M for the truncated last exit")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("float", "int8"):
            paths = convert_all(model, mode, images, Path(tmp))
            for n in args.threads:
                r = measure(paths, model.num_exits, n, args.reps, images[:1])
                rows.append({"mode": mode, "threads": n, **{k: {"median_ms": v[0], "p95_ms": v[1]}
                                                             for k, v in r.items()}})
    print(f"{'mode':>6} {'threads':>7} {'last exit ms':>12} {'p95':>7} {'cascade path ms':>15} "
          f"{'p95':>7}  vs PyTorch all exits ({PYTORCH_ALL_EXITS_MS} ms)")
    for r in rows:
        le, cp = r["last_exit"], r["cascade_path"]
        print(f"{r['mode']:>6} {r['threads']:>7} {le['median_ms']:12.3f} {le['p95_ms']:7.3f} "
              f"{cp['median_ms']:15.3f} {cp['p95_ms']:7.3f}  "
              f"{le['median_ms'] / PYTORCH_ALL_EXITS_MS:.3f}x / "
              f"{cp['median_ms'] / PYTORCH_ALL_EXITS_MS:.3f}x")
    float_rows = {r["threads"]: r for r in rows if r["mode"] == "float"}
    for n, r in float_rows.items():
        gflops = 2 * truncated / (r["last_exit"]["median_ms"] * 1e-3) / 1e9
        print(f"float, {n} thread(s): last exit runs at {gflops:.1f} GFLOP/s "
              f"(2 x multiply-adds / median time)")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows,
                                               "flops_all_exits": total,
                                               "flops_truncated_last": truncated}, indent=1))


if __name__ == "__main__":
    main()

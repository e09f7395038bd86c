"""The whole pipeline on an offline default: train, evaluate, convert, run the cascade.

    python -m msdnet_tf.demo --workdir runs/quickstart     # what `make demo` runs
    python -m msdnet_tf.demo --config configs/quickstart_ranet.yaml \
        --workdir runs/quickstart_ranet                    # `make demo MODEL=ranet`

Trains configs/quickstart.yaml (a small MSDNet on Fashion-MNIST; --config picks
another model, e.g. the RANet quickstart) or resumes it,
evaluates every exit and the budgeted-batch curve on the hold-out/test split,
chooses thresholds that keep the last exit's accuracy within 0.5 point at the
lowest average cost (thresholds.json), converts the model to TFLite (float and
int8), runs cascaded early exit on the test images with LiteRT, and prints a
summary. Running it again reuses what is already done.
"""

import subprocess
import sys
import time
from pathlib import Path

from msdnet_tf import cli
from msdnet_tf import config as config_lib

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "configs" / "quickstart.yaml"
MODES = ("float", "int8")


def _train(cfg, workdir):
    from msdnet_tf.training.trainer import Trainer

    if (workdir / "results.json").is_file() and (workdir / "model.keras").is_file():
        print(f"[1/4] training: already done in {workdir} (delete it to train again)")
        from msdnet_tf import files

        return files.read_json(workdir / "results.json", "results file",
                               f"delete {workdir} to train again")
    print(f"[1/4] training {cfg.train.epochs} epochs into {workdir}", flush=True)
    start = time.time()
    run = Trainer(cfg, workdir)
    run.fit(verbose=True)
    results = run.finish()
    print(f"      trained in {time.time() - start:.0f} s")
    return results


def cheapest_within(curve, val_target, costs, tolerance=0.5):
    """The cheapest curve point whose hold-out top-1 is within `tolerance` of `val_target`.

    Chosen on the hold-out only; the test set just reports what it gives.
    """
    good = [p for p in curve if p.val.accuracy >= val_target - tolerance]
    return min(good, key=lambda p: p.val.expected_cost(costs)) if good else curve[-1]


def _evaluate(workdir):
    import numpy as np

    from msdnet_tf import evaluation as ev
    from msdnet_tf.inference import write_workdir_logits

    print("[2/4] anytime and budgeted evaluation", flush=True)
    data = ev.load_logits(write_workdir_logits(workdir))
    last_val = 100.0 * float(np.mean(data.val_logits[-1].argmax(-1) == data.val_labels))
    result = ev.evaluate_logits(data)
    costs = list(data.exit_flops)
    point = cheapest_within(result.curve, last_val, costs)
    budget = ev.flops_budget(point.val.expected_cost(costs), data.exit_flops)
    result = ev.evaluate_logits(data, budget=budget)
    ev.write_outputs(result, workdir, dataset=None)
    return result, point, costs


def summary(result, point, costs):
    last = result.anytime[-1]
    cost = point.test.expected_cost(costs)
    lines = ["exit  test top-1  cum. MFLOPs"]
    lines += [f"{e.exit:>4}  {e.top1:10.2f}  {e.flops / 1e6:11.2f}" for e in result.anytime]
    lines += [
        "",
        f"budgeted batch (thresholds chosen on the hold-out to stay within 0.5 point of the "
        f"last exit): q={float(point.q):.2f}, test top-1 {point.test.accuracy:.2f}% (last exit "
        f"alone {last.top1:.2f}%) at {cost / 1e6:.2f}M FLOPs per image on average, "
        f"{100.0 * (1 - cost / last.flops):.0f}% less than always running the last exit "
        f"({last.flops / 1e6:.2f}M)",
        "thresholds: thresholds.json; curves: anytime.png, budgeted.png",
    ]
    return "\n".join(lines)


def _convert(workdir, verbose=False):
    out = workdir / "tflite"
    if all((out / m / "manifest.json").is_file() for m in MODES) and \
            (out / "float" / "thresholds.json").is_file():
        print(f"[3/4] TFLite conversion: already done in {out}")
        return out
    print(f"[3/4] converting to TFLite ({', '.join(MODES)}) into {out}", flush=True)
    cmd = [sys.executable, str(REPO / "tflite" / "convert.py"), "--workdir", str(workdir),
           "--output", str(out)] + [a for m in MODES for a in ("--mode", m)]
    cmd += ["--verbose"] if verbose else []
    if subprocess.run(cmd).returncode != 0:
        raise cli.UserError(f"conversion failed: {' '.join(cmd)}")
    return out


def _cascade(out, thresholds_path):
    """Harness runs: the cascade with the chosen thresholds, and the last exit alone."""
    from msdnet_tf.runtime import harness, inputs, policy
    from msdnet_tf.runtime.cascade import Cascade

    print("[4/4] cascaded early exit on the test set with LiteRT (1 thread)", flush=True)
    rows = []
    for mode in MODES:
        cascade = Cascade.load(out / mode, threads=1)
        manifest = cascade.manifest
        items = inputs.from_dataset(manifest, manifest["preprocessing"]["dataset"], "test")
        thresholds, _ = policy.resolve(manifest, thresholds=thresholds_path)
        early = harness.run(cascade, items, thresholds)
        full = harness.run(cascade, items, None)
        rows.append((mode, early, full))
    return rows


def cascade_lines(rows):
    lines = [f"{'mode':>6} {'policy':>10} {'top-1':>7} {'MFLOPs':>7} {'mean ms':>8} "
             f"{'p95 ms':>7}  exits"]
    for mode, early, full in rows:
        for name, r in (("cascade", early), ("last exit", full)):
            lines.append(f"{mode:>6} {name:>10} {r['accuracy']:7.2f} {r['expected_flops'] / 1e6:7.2f} "
                         f"{r['mean_latency_ms']:8.3f} {r['p95_latency_ms']:7.3f}  "
                         f"{r['exit_counts']}")
        saved = 100 * (1 - early["mean_latency_ms"] / full["mean_latency_ms"])
        lines.append(f"{mode:>6}: early exit saves {saved:.0f}% of the latency of always running "
                     "the last exit")
    return lines


@cli.main_wrapper
def main(argv=None):
    parser = cli.parser("msdnet_tf.demo", __doc__.strip().splitlines()[0])
    cli.add_config_args(parser)
    parser.add_argument("--workdir", default="runs/quickstart")
    args = parser.parse_args(argv)
    args.config = args.config or str(QUICKSTART)
    cfg = cli.config_from_args(args)
    cli.quiet_tensorflow()
    workdir = Path(args.workdir)
    start = time.time()
    _train(cfg, workdir)
    result, point, costs = _evaluate(workdir)
    rows = _cascade(_convert(workdir, args.verbose), workdir / "thresholds.json")
    print()
    print(f"== msdnet_tf demo: {cfg.model.family} on {cfg.data.dataset}, "
          f"{config_lib.num_exits(cfg)} exits, "
          f"{time.time() - start:.0f} s ==")
    print(summary(result, point, costs))
    print()
    print("\n".join(cascade_lines(rows)))
    print(f"everything is in {workdir}/")


if __name__ == "__main__":
    main()

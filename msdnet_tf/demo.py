"""The whole pipeline on an offline default: train, then anytime and budgeted evaluation.

    python -m msdnet_tf.demo --workdir runs/quickstart     # what `make demo` runs

Trains configs/quickstart.yaml (a small MSDNet on Fashion-MNIST) or resumes it,
evaluates every exit and the budgeted-batch curve on the hold-out/test split,
chooses thresholds that keep the last exit's accuracy within 0.5 point at the
lowest average cost (thresholds.json), and prints a summary. Running it again
reuses what is already done.
"""

import json
import time
from pathlib import Path

from msdnet_tf import cli

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def _train(cfg, workdir):
    from msdnet_tf.training.trainer import Trainer

    if (workdir / "results.json").is_file() and (workdir / "model.keras").is_file():
        print(f"[1/2] training: already done in {workdir} (delete it to train again)")
        return json.loads((workdir / "results.json").read_text())
    print(f"[1/2] training {cfg.train.epochs} epochs into {workdir}", flush=True)
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

    print("[2/2] anytime and budgeted evaluation", flush=True)
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
    print()
    print(f"== msdnet_tf demo: {cfg.data.dataset}, {cfg.model.num_blocks} exits, "
          f"{time.time() - start:.0f} s ==")
    print(summary(result, point, costs))
    print(f"everything is in {workdir}/")


if __name__ == "__main__":
    main()

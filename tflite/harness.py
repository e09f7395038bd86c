"""Cascaded early exit on converted TFLite models, image by image, measured.

    python tflite/harness.py --models OUT --dataset fashion_mnist --split test --limit 1000 \
        --thresholds runs/quickstart/thresholds.json --report report.json
    python tflite/harness.py --models OUT --images photos/ --q 0.5 --workdir runs/quickstart
    python tflite/harness.py --models OUT --dataset fashion_mnist --deadline-ms 0.8 \
        --latency latency.json
    python tflite/harness.py --models OUT --dataset fashion_mnist --budget-ms 0.3 \
        --latency OUT/latency_1t.json --workdir runs/qs_switch

For a resolution-switchable model (manifest.json lists `resolutions`) a budget picks the
input side and its thresholds (best hold-out accuracy within the budget, from the run's
per-side logits and, for --budget-ms, the per-side latencies of tflite/benchmark.py);
--resolution R forces a side.

Runs cascade.tflite stage by stage on the LiteRT runtime (the one a phone uses),
stopping at the first exit whose max softmax probability reaches its threshold,
and reports accuracy, average FLOPs and latency, and an exit histogram.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msdnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.parser("tflite/harness.py", __doc__.strip().splitlines()[0])
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--models", required=True, help="a tflite/convert.py output directory")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="a dataset split through the training loaders")
    src.add_argument("--images", help="an image file or a folder of PNG/JPEG files")
    p.add_argument("--split", default="test", choices=("test", "val"))
    p.add_argument("--limit", type=cli.count(0, "0 = all"), default=0,
                   help="first N images only (0 = all)")
    pol = p.add_mutually_exclusive_group()
    pol.add_argument("--thresholds", help="a thresholds.json")
    pol.add_argument("--q", type=cli.positive(), help="the paper's exit-share parameter q")
    pol.add_argument("--budget-flops", type=cli.positive(), help="average FLOPs per image")
    pol.add_argument("--budget-ms", type=cli.positive(),
                     help="average ms per image (needs --latency)")
    p.add_argument("--deadline-ms", type=cli.positive(),
                   help="anytime mode: run the next stage only while it fits the deadline "
                        "(needs --latency)")
    p.add_argument("--latency", help="latency.json of tflite/benchmark.py for this device")
    p.add_argument("--workdir", help="the training run (hold-out logits for --q/--budget-*); "
                                     "default: the one named in manifest.json")
    p.add_argument("--resolution", type=cli.count(1), metavar="R",
                   help="a resolution-switchable model's input side (default: the one the "
                        "thresholds file names, or for a budget the best side, or the largest)")
    p.add_argument("--threads", type=cli.count(1), default=1, help="LiteRT CPU threads")
    p.add_argument("--report", help="write the JSON report here")
    return p


def _stage_costs(args, manifest):
    """Measured stage_ms per exit for --deadline-ms, from --latency (checked)."""
    from msdnet_tf import evaluation as ev
    from msdnet_tf.evaluation.common import read_json

    if args.deadline_ms is None:
        return None
    try:
        ev.load_latency(args.latency, num_exits=manifest["num_exits"])  # validates
        data = read_json(args.latency, "latency file")
    except ev.EvaluationError as e:
        raise cli.UserError(str(e)) from None
    side = manifest["input"]["shape"][1]
    for entry in data.get("resolutions") or []:  # a switchable model: the side that runs
        if isinstance(entry, dict) and entry.get("resolution") == side:
            data = entry
    exits = data.get("exits")
    if not isinstance(exits, list) or len(exits) != manifest["num_exits"] or \
            not all(isinstance(e, dict) and "exit" in e for e in exits):
        raise cli.UserError(f"latency file {args.latency}: the timings at {side}x{side} must list "
                            f"the {manifest['num_exits']} exits; benchmark these models again")
    costs = [e.get("stage_ms") for e in sorted(exits, key=lambda e: e["exit"])]
    for k, ms in enumerate(costs):
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms >= 0 \
                or ms == float("inf"):
            raise cli.UserError(f"latency file {args.latency}: stage_ms of exit_{k} must be a "
                                f"non-negative number for --deadline-ms. Received: {ms!r}")
    return [float(ms) for ms in costs]


def _check_args(parser, args):
    if args.budget_ms is not None and not args.latency:
        parser.error("--budget-ms needs --latency LATENCY.json (measured path costs)")
    if args.deadline_ms is not None and not args.latency:
        parser.error("--deadline-ms needs --latency LATENCY.json (measured stage costs)")
    if args.latency and args.budget_ms is None and args.deadline_ms is None:
        parser.error("--latency is only used with --budget-ms or --deadline-ms")


def _usable(items, source):
    """Refuses a run where no image can be classified (nothing would be measured)."""
    bad = [it for it in items if it.error is not None]
    if items and len(bad) == len(items):
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise cli.UserError(f"{source}: none of the {len(items)} images can be used, nothing to "
                            f"measure: {bad[0].error}{more}")
    if not items:
        raise cli.UserError(f"{source}: no images, nothing to measure")


def summary_table(report, num_exits):
    n = sum(report["exit_counts"])
    lines = [f"{'exit':>4} {'images':>7} {'share':>6}  histogram"]
    for k, c in enumerate(report["exit_counts"]):
        share = c / n if n else 0.0
        lines.append(f"{k:>4} {c:>7} {100 * share:5.1f}%  {'#' * round(40 * share)}")
    acc = "n/a" if report["accuracy"] is None else f"{report['accuracy']:.2f}%"
    lines.append(f"images {n}, accuracy {acc}, mean {report['expected_flops'] / 1e6:.2f}M FLOPs "
                 f"(last exit {report['last_exit_flops'] / 1e6:.2f}M), latency mean "
                 f"{report['mean_latency_ms']:.3f} ms, p50 {report['p50_latency_ms']:.3f}, "
                 f"p95 {report['p95_latency_ms']:.3f}")
    if report["skipped"]:
        lines.append(f"skipped {len(report['skipped'])} bad images:")
        lines += [f"  {s}" for s in report["skipped"]]
    return "\n".join(lines)


@cli.main_wrapper
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    from msdnet_tf import workdir

    if args.report:  # before the run, so that its results cannot be lost at the end
        workdir.check_output_file(args.report, "--report")
    cli.quiet_tensorflow()
    from msdnet_tf.runtime import harness, inputs, policy
    from msdnet_tf.runtime.cascade import Cascade

    from msdnet_tf.runtime.manifest import load_manifest

    side, thresholds, how = policy.choose(load_manifest(args.models), args.thresholds, args.q,
                                          args.budget_flops, args.budget_ms, args.latency,
                                          args.workdir, args.resolution)
    cascade = Cascade.load(args.models, threads=args.threads, resolution=side)
    manifest = cascade.manifest
    costs = _stage_costs(args, manifest)
    if args.dataset:
        items = inputs.from_dataset(manifest, args.dataset, args.split, args.limit, args.workdir)
        _usable(items, f"--dataset {args.dataset}")
    else:
        items = inputs.from_files(manifest, args.images)
        _usable(items, f"--images {args.images}")
    print(f"{len(items)} images at {side}x{side}, {how}, {args.threads} thread(s), mode "
          f"{manifest['mode']}")
    report = harness.run(cascade, items, thresholds, args.deadline_ms, costs)
    print(summary_table(report, cascade.num_exits))
    if args.report:
        workdir.ensure_dir(Path(args.report).parent)
        workdir.atomic_write_json(args.report, report)
        print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

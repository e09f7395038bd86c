"""Benchmark converted MSDNet models on LiteRT: per-exit stage, path and truncated latency.

    python tflite/benchmark.py --models OUT --threads 1 2

OUT is a tflite/convert.py output directory, or a directory of them (one per
quantisation mode). A resolution-switchable model is timed at every (resolution,
exit): latency_<n>t.json then lists every side under `resolutions`. For every model directory and thread count this writes
`latency_<n>t.json` (the format `msdnet_tf.evaluate --budget-ms` and the harness
read; see docs/deployment-format.md) and `accuracy_latency_<n>t.png`, prints a
table, and with --harness-images runs the real cascade on test images to
measure the host-side overhead against the per-exit path latencies.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msdnet_tf import cli  # noqa: E402


def table(lat, checks):
    rows = [f"{'exit':>4} {'stage ms':>9} {'p95':>7} {'path ms':>9} {'p95':>7} "
            f"{'trunc. ms':>9} {'p95':>7} {'path/trunc':>10} {'MFLOPs':>8}"]
    for e in lat["exits"]:
        rows.append(f"{e['exit']:>4} {e['stage_ms']:9.3f} {e['stage_p95_ms']:7.3f} "
                    f"{e['path_ms']:9.3f} {e['path_p95_ms']:7.3f} {e['truncated_ms']:9.3f} "
                    f"{e['truncated_p95_ms']:7.3f} {e['path_ms'] / e['truncated_ms']:10.3f} "
                    f"{e['cumulative_flops'] / 1e6:8.2f}")
    rows.append(f"cascade.tflite {lat['cascade_bytes'] / 1024:.0f} KiB; last exit: path "
                f"{checks['last_path_over_truncated']:.3f}x the truncated model (target <= 1.15);"
                f" truncated at most {100 * checks['max_truncated_advantage']:.1f}% cheaper "
                "(target <= 15%)")
    return "\n".join(rows)


def _harness(models_dir, manifest, latency, n, threads):
    from msdnet_tf import evaluation as ev
    from msdnet_tf.runtime import harness, inputs, policy
    from msdnet_tf.runtime.benchmark import cascade_overhead
    from msdnet_tf.runtime.cascade import Cascade

    thresholds, how = policy.resolve(manifest)
    if thresholds is None:
        workdir = (manifest.get("source") or {}).get("workdir")
        path = Path(workdir) / "thresholds.json" if workdir else None
        side = manifest["input"]["shape"][1]
        if path is not None and path.is_file() and \
                (ev.load_thresholds(path).resolution or side) == side:  # the side timed here
            thresholds, how = policy.resolve(manifest, path)
    if thresholds is None:
        return None, "no thresholds in the manifest or the run: harness check skipped"
    items = inputs.from_dataset(manifest, manifest["preprocessing"]["dataset"], "test", n)
    report = harness.run(Cascade.load(models_dir, threads), items, thresholds)
    ratio, expected = cascade_overhead(report, latency)
    return report, (f"harness on {len(items)} test images ({how}): accuracy "
                    f"{report['accuracy']:.2f}%, exits {report['exit_counts']}, mean "
                    f"{report['mean_latency_ms']:.3f} ms vs {expected:.3f} ms from path "
                    f"latencies: overhead ratio {ratio:.3f} (target <= 1.10)")


def _run_logits(manifest):
    """The source run's logits.npz for the accuracy curve of the plot, if it is usable."""
    from msdnet_tf import evaluation as ev

    run = (manifest.get("source") or {}).get("workdir")
    path = Path(run) / "logits.npz" if run else None
    if path is None or not path.exists():
        return None
    try:
        ev.load_logits(path)
    except ev.EvaluationError as e:
        print(f"warning: {e}; the plots leave out the accuracy curve", file=sys.stderr)
        return None
    return path


@cli.main_wrapper
def main(argv=None):
    p = cli.parser("tflite/benchmark.py", __doc__.strip().splitlines()[0])
    p.add_argument("--models", required=True)
    p.add_argument("--threads", type=cli.count(1), nargs="+", default=[1],
                   help="LiteRT CPU thread counts to measure")
    p.add_argument("--reps", type=cli.count(1), default=50,
                   help="timed repetitions per measurement")
    p.add_argument("--warmup", type=cli.count(0), default=5)
    p.add_argument("--harness-images", type=cli.count(0, "0 = skip"), default=0,
                   help="also run the cascade on this many test images (0 = skip)")
    p.add_argument("--summary", help="write every result into this JSON file too")
    args = p.parse_args(argv)
    from msdnet_tf import workdir

    if args.summary:
        workdir.check_output_file(args.summary, "--summary")
    cli.quiet_tensorflow()
    from msdnet_tf.runtime.benchmark import (benchmark_resolutions, find_model_dirs, machine,
                                             plot_accuracy_latency, ratios)
    from msdnet_tf.runtime.manifest import load_manifest

    dirs = find_model_dirs(args.models)
    if not dirs:
        raise cli.UserError(f"no manifest.json in {args.models} or its sub-directories")
    manifests, curves = {}, {}
    for d in dirs:  # every input and output checked before the first measurement
        manifests[d] = load_manifest(d)
        workdir.check_output_dir(d, "--models", fix="the benchmark writes latency_<n>t.json "
                                 "and its plot into each model folder: copy the folder to a "
                                 "writable location")
        curves[d] = _run_logits(manifests[d])
    print(f"machine: {machine()}")
    summary = []
    for d in dirs:
        manifest = manifests[d]
        for n in args.threads:
            lat = benchmark_resolutions(d, n, args.reps, args.warmup)
            checks = ratios(lat)
            workdir.atomic_write_json(d / f"latency_{n}t.json", lat)
            print(f"\n== {d} ({lat['mode']}, {n} thread(s)) ==")
            for side in lat.get("resolutions", [lat]):
                if "resolutions" in lat:
                    print(f"-- {side['resolution']}x{side['resolution']}")
                print(table(side, ratios(side)))
            report, line = None, None
            if args.harness_images:
                report, line = _harness(d, manifest, lat, args.harness_images, n)
                print(line)
            plot_accuracy_latency(d / f"accuracy_latency_{n}t.png", lat, curves[d], report)
            summary.append({"dir": str(d), "latency": lat, "checks": checks, "harness": line})
    if args.summary:
        workdir.ensure_dir(Path(args.summary).parent)
        workdir.atomic_write_json(args.summary, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Evaluates a multi-exit model the way the MSDNet paper does, from its logits.

    python -m msdnet_tf.evaluate --from-logits run/logits.npz --output run/eval
    python -m msdnet_tf.evaluate --from-logits logits.npz --budget-flops 5e7 --published cifar100
    python -m msdnet_tf.evaluate --from-logits logits.npz --budget-ms 8 --latency latency.json
    python -m msdnet_tf.evaluate --workdir runs/qs_switch --budget-flops 5e6

A resolution-switchable run (model.resolutions) is also evaluated at every (resolution,
exit): resolutions.json and resolutions.png, every side's budgeted curve in budgeted.json,
and a budget picks the side and its thresholds (thresholds.json names the resolution).

Writes anytime.json, budgeted.json, anytime.png and budgeted.png (plus
thresholds.json when a budget is given) into --output, by default next to the
logits file, and prints both tables. `--override eval.num_q=20` and
`eval.top_k` change the q grid and the second accuracy column.
"""

import argparse
import os
from pathlib import Path

from msdnet_tf import cli
from msdnet_tf import evaluation as ev


def build_parser():
    p = cli.parser("msdnet_tf.evaluate", "Anytime and budgeted evaluation of MSDNet logits.")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "examples:\n" + "\n".join(
        line for line in __doc__.splitlines() if line.startswith("    python"))
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-logits", metavar="LOGITS.npz",
                        help="a logits file (see msdnet_tf/evaluation/logits_io.py)")
    source.add_argument("--workdir", metavar="DIR",
                        help="a training run directory: computes DIR/logits.npz from "
                             "DIR/model.keras (hold-out and test set) unless it is up to date, "
                             "and writes results into DIR")
    p.add_argument("--output", metavar="DIR",
                   help="where to write results (default: the directory of the logits file)")
    p.add_argument("--published", choices=ev.published.keys(), metavar="DATASET",
                   help="overlay the papers' published curves for this dataset "
                        f"({', '.join(ev.published.keys())})")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--budget-flops", type=cli.positive(), metavar="F",
                        help="choose thresholds for an average of F FLOPs per image "
                             "(writes thresholds.json)")
    budget.add_argument("--budget-ms", type=cli.positive(), metavar="T",
                        help="choose thresholds for an average of T ms per image, costs from "
                             "--latency (writes thresholds.json)")
    p.add_argument("--latency", metavar="LATENCY.json",
                   help="measured per-exit latencies; the cost of exit k is its path_ms")
    cli.add_config_args(p)
    return p


def logits_for_workdir(workdir, cfg, resolution=None):
    """DIR/logits.npz of a run directory, computed from DIR/model.keras when missing or stale.

    Returns (path, dataset of the run) so the published curve can be chosen.
    resolution: a switchable run's input side (DIR/logits_r<R>.npz; default the largest).
    """
    workdir = Path(workdir)
    model_path = workdir / "model.keras"
    from msdnet_tf import config as config_lib
    from msdnet_tf.inference import logits_file

    run_cfg = workdir / "config.yaml"
    saved = config_lib.load_config(run_cfg) if os.path.lexists(run_cfg) else None
    dataset = saved.data.dataset if saved else None
    path = logits_file(workdir, saved or cfg, resolution)
    if os.path.lexists(path) and not os.path.lexists(model_path):
        return path, dataset  # logits written by other means: evaluate them as they are
    if os.path.lexists(path) and not path.is_file():
        raise cli.UserError(f"{path} is not a file; remove it so that the logits can be "
                            "computed again")
    if os.path.lexists(path) and model_path.is_file():
        from msdnet_tf.inference import model_fingerprint

        try:
            if ev.load_logits(path).model == model_fingerprint(model_path):
                return path, dataset
        except ev.EvaluationError:
            pass  # a damaged or foreign logits file: compute it again
    cli.quiet_tensorflow()
    from msdnet_tf.inference import write_workdir_logits

    side = f" at {resolution}x{resolution}" if resolution else ""
    print(f"computing hold-out and test logits of {model_path}{side} ...", flush=True)
    return write_workdir_logits(workdir, cfg.eval.batch_size, resolution), dataset


def _switchable_sizes(args):
    """The resolutions of a switchable --workdir run, else None."""
    from msdnet_tf import config as config_lib

    run_cfg = Path(args.workdir) / "config.yaml" if args.workdir else None
    if run_cfg is None or not os.path.lexists(run_cfg):
        return None
    return config_lib.load_config(run_cfg).model.resolutions or None


def evaluate_resolutions(args, cfg, sizes, out_dir):
    """The joint (resolution, exit) evaluation of a switchable run; returns the printed text."""
    from msdnet_tf.evaluation import resolution as joint
    from msdnet_tf.evaluation import resolution_report
    from msdnet_tf.evaluation.common import read_json, write_json

    sets = {r: ev.load_logits(logits_for_workdir(args.workdir, cfg, r)[0]) for r in sizes}
    space = joint.JointSpace(sets, top_k=cfg.eval.top_k)
    model = sets[sizes[0]].model
    report = resolution_report.report_json(space, model, cfg.eval.num_q)
    paths = resolution_report.write(report, out_dir)
    budgeted = out_dir / "budgeted.json"
    if budgeted.is_file():  # every side's points, for runtimes that pick a side for a budget
        data = read_json(budgeted, "budgeted curve")
        data["resolutions"] = report["budgeted"]
        write_json(budgeted, data)
    text = [resolution_report.format_tables(report)]
    if args.budget_flops is not None or args.budget_ms is not None:
        if args.budget_ms is not None:
            costs = joint.load_latency_by_resolution(args.latency, sizes, space.num_exits)
            space, metric, value = space.with_costs(costs), "latency_ms", args.budget_ms
        else:
            metric, value = "flops", args.budget_flops
        choice = joint.choose(space.singles(), metric, value)
        record = ev.budget_record(choice.result, space.flops[choice.resolution])
        record["candidate"] = choice.candidate.name
        paths["thresholds.json"] = ev.save_thresholds(
            out_dir / "thresholds.json", choice.result.point.thresholds, budget=record,
            model=model, resolution=choice.resolution)
        p = choice.result.point
        text.append(f"\nBudget: {choice.result.budget.describe(value)} per image -> "
                    f"{choice.resolution}x{choice.resolution}, q = {float(p.q):.4g}: hold-out "
                    f"{p.val.accuracy:.2f} %, test {p.test.accuracy:.2f} % at "
                    f"{choice.result.budget.describe(choice.result.test_cost)}")
    text.append("wrote " + ", ".join(str(p) for p in paths.values()))
    return "\n".join(text)


def _budget(args, data, profile):
    if args.budget_flops is not None:
        return ev.flops_budget(args.budget_flops, data.exit_flops)
    if args.budget_ms is not None:
        if len(profile.path_ms) != data.num_exits:
            raise ev.EvaluationError(f"latency file {args.latency} has {len(profile.path_ms)} "
                                     f"exits but the model has {data.num_exits}")
        return ev.latency_budget(args.budget_ms, profile)
    return None


def _check_budget_args(parser, args):
    if args.budget_ms is not None and not args.latency:
        parser.error("--budget-ms needs --latency LATENCY.json (the per-exit costs)")
    if args.latency and args.budget_ms is None:
        parser.error("--latency is only used with --budget-ms")


@cli.main_wrapper
def main(argv=None):
    from msdnet_tf import workdir as workdir_lib

    parser = build_parser()
    args = parser.parse_args(argv)
    _check_budget_args(parser, args)
    cfg = cli.config_from_args(args)
    published = args.published
    sizes = _switchable_sizes(args)
    # Every input and the output location are checked before anything is computed.
    try:
        # A switchable run's latency file times every side (read by evaluate_resolutions).
        profile = ev.load_latency(args.latency) \
            if args.budget_ms is not None and not sizes else None
    except ev.EvaluationError as e:
        raise cli.UserError(str(e)) from None
    if args.output:
        out_dir = workdir_lib.check_output_dir(args.output, "--output")
    elif args.workdir:
        out_dir = workdir_lib.check_output_dir(args.workdir, "--workdir")
    else:
        out_dir = workdir_lib.check_output_dir(Path(args.from_logits).parent,
                                               f"--from-logits {args.from_logits}: its directory")
    lock = None
    if args.workdir:
        if not Path(args.workdir).is_dir():
            raise cli.UserError(f"--workdir {args.workdir} is not a training run directory")
        lock = workdir_lib.DirectoryLock(args.workdir).acquire()
    try:
        if args.from_logits:
            logits_path = Path(args.from_logits)
        else:
            logits_path, dataset = logits_for_workdir(args.workdir, cfg)
            if published is None and dataset in ev.published.keys():
                published = dataset
        try:
            data = ev.load_logits(logits_path)
            # A switchable run chooses its side and thresholds over every resolution below.
            result = ev.evaluate_logits(data, num_q=cfg.eval.num_q, top_k=cfg.eval.top_k,
                                        budget=None if sizes else _budget(args, data, profile))
        except ev.EvaluationError as e:
            raise cli.UserError(str(e)) from None
        try:
            paths = ev.write_outputs(result, out_dir, dataset=published)
        except OSError as e:
            raise cli.UserError(f"cannot write results to {out_dir}: {e}") from None
        text = None
        if sizes:
            try:
                text = evaluate_resolutions(args, cfg, sizes, out_dir)
            except ev.EvaluationError as e:
                raise cli.UserError(str(e)) from None
            except OSError as e:
                raise cli.UserError(f"cannot write results to {out_dir}: {e}") from None
    finally:
        if lock is not None:
            lock.release()
    print(ev.format_anytime_table(result))
    print()
    print(ev.format_budgeted_table(result))
    if result.budget is not None:
        print()
        print(ev.format_budget(result))
    print()
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    if sizes:
        try:
            text = evaluate_resolutions(args, cfg, sizes, out_dir)
        except ev.EvaluationError as e:
            raise cli.UserError(str(e)) from None
        print()
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

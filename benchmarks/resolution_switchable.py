"""One switchable model against models trained separately at each resolution: tables.

    python benchmarks/resolution_switchable.py --switchable runs/msd_switch \
        --single 32=runs/msd_single_32 --single 24=runs/msd_single_24 \
        --single 16=runs/msd_single_16 --latency runs/msd_switch_tflite/latency_1t.json \
        --title "MSDNet quickstart" --output benchmarks/results/resolution_switchable.md

Reads what the ordinary commands wrote (results.json of every run; logits.npz /
logits_r<R>.npz of `python -m msdnet_tf.evaluate --workdir`; latency_<n>t.json
of `tflite/benchmark.py`) and writes markdown: per (resolution, exit) test
top-1 and FLOPs of both, the difference, and the parameters each needs; the
goal check (switchable within --tolerance points at every pair, on the means);
the budgeted answers at 10, 20, 30 and 50% of the largest side's last-exit
FLOPs (largest side alone, envelope over sides, cross-resolution cascades) for
the switchable model and for the three separate models taken together; and the
LiteRT latency per (resolution, exit).

Several trainings of one model (other train.seed): repeat --switchable RUN, or
--single R=RUN with the same R. The accuracy table then gives each model's mean
± sample sd and every run, the difference of the means with its standard
error, and the run-to-run spread; the budget table uses the first run of each.
Only results.json is needed from the extra runs (no evaluate).
"""

import argparse
import datetime
import json
import platform
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msdnet_tf import cli  # noqa: E402
from msdnet_tf import evaluation as ev  # noqa: E402
from msdnet_tf.evaluation import resolution as joint  # noqa: E402
from msdnet_tf.evaluation import resolution_report  # noqa: E402


def _cpu():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPUs"


def _results(run):
    path = Path(run) / "results.json"
    if not path.is_file():
        raise cli.UserError(f"{run} has no results.json: train it first (python -m "
                            f"msdnet_tf.train --workdir {run})")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise cli.UserError(f"{path} is not valid JSON ({e}): train the run again") from None


def _logits(run, r, largest):
    name = "logits.npz" if r == largest else f"logits_r{r}.npz"
    path = Path(run) / name
    if not path.is_file():
        raise cli.UserError(f"{run} has no {name}: run python -m msdnet_tf.evaluate "
                            f"--workdir {run}")
    try:
        return ev.load_logits(path)
    except ev.EvaluationError as e:
        raise cli.UserError(str(e)) from None


def stats(values):
    """{n, mean, sd (sample, None for one run), lo, hi, spread (hi - lo)} of accuracies."""
    n = len(values)
    mean = sum(values) / n
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 else None
    return {"n": n, "mean": mean, "sd": sd, "lo": min(values), "hi": max(values),
            "spread": max(values) - min(values)}


def compare(switches, singles):
    """Per (resolution, exit): the switchable runs' and the separate runs' statistics and the
    difference of their means, with its standard error when both sides have several runs.

    switches: results.json of every switchable run (other seeds of one setting);
    singles: {r: [results.json of every run trained at r alone]}.
    """
    sides = {}
    for sw in switches:
        for e in sw["resolutions"]:
            sides.setdefault(e["resolution"], []).append(e)
    pairs = []
    for r, entries in sides.items():
        runs = singles.get(r, [])
        for k, flops in enumerate(entries[0]["exit_cumulative_flops"]):
            s = stats([e["test_top1"][k] for e in entries])
            p = stats([run["test_top1"][k] for run in runs]) if runs else None
            pair = {"resolution": r, "exit": k, "flops": flops, "switchable": s,
                    "separate": p, "diff": None, "se": None}
            if p is not None:
                pair["diff"] = s["mean"] - p["mean"]
                if s["sd"] is not None and p["sd"] is not None:
                    pair["se"] = (s["sd"] ** 2 / s["n"] + p["sd"] ** 2 / p["n"]) ** 0.5
            pairs.append(pair)
    return pairs


def goal(pairs, tolerance=0.5):
    """The goal check on the means: switchable within `tolerance` points of the separate
    models at every pair. Returns a dict of the figures the verdict needs."""
    compared = [p for p in pairs if p["diff"] is not None]
    diffs = [p["diff"] for p in compared]
    out = {"pairs": len(compared), "tolerance": tolerance,
           "within": sum(d >= -tolerance for d in diffs),
           "worst": min(diffs, default=None),
           "mean_diff": sum(diffs) / len(diffs) if diffs else None,
           "missed": [p for p in compared if p["diff"] < -tolerance]}
    for side in ("switchable", "separate"):
        spreads = sorted(p[side]["spread"] for p in compared if p[side]["n"] > 1)
        out[side + "_spread"] = ({"median": spreads[len(spreads) // 2] if len(spreads) % 2
                                  else (spreads[len(spreads) // 2 - 1]
                                        + spreads[len(spreads) // 2]) / 2,
                                  "max": spreads[-1]} if spreads else None)
    return out


def _cell(s):
    return f"{s['mean']:.2f}" + (f" ± {s['sd']:.2f}" if s["sd"] is not None else "")


def accuracy_table(switches, singles):
    """Markdown rows and the largest shortfall of the means (0.0 if none)."""
    pairs = compare(switches, singles)
    many_s = len(switches) > 1
    many_p = max((len(v) for v in singles.values()), default=1) > 1
    head = "| input | exit | MFLOPs | switchable top-1 % | separate top-1 % | difference |"
    rule = "|---|---|---|---|---|---|"
    if many_s and many_p:
        head, rule = head + " ± SE |", rule + "---|"
    if many_s:
        head, rule = head + " switchable, per run |", rule + "---|"
    if many_p:
        head, rule = head + " separate, per run |", rule + "---|"
    rows = [head, rule]
    for p in pairs:
        row = (f"| {p['resolution']}x{p['resolution']} | exit_{p['exit']} | "
               f"{p['flops'] / 1e6:.2f} | {_cell(p['switchable'])} | "
               + ("-" if p["separate"] is None else _cell(p["separate"])) + " | "
               + ("-" if p["diff"] is None else f"{p['diff']:+.2f}") + " |")
        if many_s and many_p:
            row += " " + ("-" if p["se"] is None else f"{p['se']:.2f}") + " |"
        if many_s:
            row += " " + _runs(p, "switchable", switches) + " |"
        if many_p:
            row += " " + _runs(p, "separate", singles.get(p["resolution"], [])) + " |"
        rows.append(row)
    return rows, min([0.0] + [p["diff"] for p in pairs if p["diff"] is not None])


def _runs(pair, side, runs):
    if side == "switchable":
        values = [next(e for e in sw["resolutions"] if e["resolution"] == pair["resolution"])
                  ["test_top1"][pair["exit"]] for sw in runs]
    else:
        values = [run["test_top1"][pair["exit"]] for run in runs]
    return " / ".join(f"{v:.2f}" for v in values) or "-"


def goal_lines(pairs, tolerance=0.5):
    g = goal(pairs, tolerance)
    if not g["pairs"]:
        return []
    lines = [f"Goal (switchable within {tolerance} point of the separate models, on the "
             f"means): {g['within']} of {g['pairs']} pairs; largest shortfall "
             f"{g['worst']:+.2f}; mean difference over the pairs {g['mean_diff']:+.2f}."]
    for p in g["missed"]:
        lines.append(f"- missed at {p['resolution']}x{p['resolution']} exit_{p['exit']}: "
                     f"{p['diff']:+.2f}" + (f" ± {p['se']:.2f} (SE)" if p["se"] is not None
                                            else ""))
    for side in ("switchable", "separate"):
        s = g[side + "_spread"]
        if s:
            lines.append(f"Run-to-run spread (best minus worst run at one pair), {side}: "
                         f"median {s['median']:.2f}, largest {s['max']:.2f} points.")
    return lines


def params_line(switch, singles):
    served = switch["exit_cumulative_params"][-1]
    total = sum(runs[0]["exit_cumulative_params"][-1] for runs in singles.values())
    return (f"Parameters: the switchable model trains {switch['switchable_params']:,} (shared "
            f"convolutions and Dense layers, {len(switch['resolutions'])} sets of BatchNorm "
            f"parameters); each side is served by {served:,}. The {len(singles)} separate models "
            f"hold {total:,} together.")


def budget_table(space, label):
    rows = []
    for row in resolution_report.at_fractions(space):
        for key in ("largest", "envelope", "cross"):
            c = row[key]
            if "error" in c:
                rows.append(f"| {label} | {row['fraction']:.0%} | {key} | - | - | - | "
                            f"{c['error']} |")
                continue
            rows.append(f"| {label} | {row['fraction']:.0%} ({row['budget_flops'] / 1e6:.2f}M) "
                        f"| {key} | {c['test_accuracy']:.2f} | {c['val_accuracy']:.2f} | "
                        f"{c['test_cost'] / 1e6:.2f} | {c['candidate']} |")
    return rows


def latency_table(path):
    data = json.loads(Path(path).read_text())
    rows = [f"LiteRT, {data['mode']}, {data['threads']} thread(s), {data['device']}, "
            f"{data.get('reps')} repetitions (medians; path = stages 0..k in sequence)", "",
            "| input | exit | MFLOPs | stage ms | path ms | path p95 ms | truncated ms |",
            "|---|---|---|---|---|---|---|"]
    for side in data.get("resolutions", [data]):
        r = side.get("resolution", data.get("resolution"))
        for e in side["exits"]:
            rows.append(f"| {r}x{r} | exit_{e['exit']} | {e['cumulative_flops'] / 1e6:.2f} | "
                        f"{e['stage_ms']:.3f} | {e['path_ms']:.3f} | {e['path_p95_ms']:.3f} | "
                        f"{e['truncated_ms']:.3f} |")
    return rows


def _parse_single(spec, sizes):
    r, sep, run = spec.partition("=")
    if not sep or not r.strip().isdigit() or not run:
        raise cli.UserError(f"--single expects R=RUN, e.g. 32=runs/msd_single_32. "
                            f"Received: {spec!r}")
    if int(r) not in sizes:
        raise cli.UserError(f"--single {spec}: {r} is not a side of the switchable model "
                            f"(its resolutions: {', '.join(map(str, sizes))})")
    return int(r), run


def _switchable(run, first=None):
    res = _results(run)
    if not res.get("resolutions"):
        raise cli.UserError(f"{run} is not a resolution-switchable run (its results.json "
                            f"lists no resolutions): give it as --single R={run}")
    if first is not None and [(e["resolution"], e["exit_cumulative_flops"])
                              for e in res["resolutions"]] != [
            (e["resolution"], e["exit_cumulative_flops"]) for e in first["resolutions"]]:
        raise cli.UserError(f"{run} has other resolutions or per-exit FLOPs than the first "
                            f"--switchable run: give runs of one setting (other seeds) only")
    return res


@cli.main_wrapper
def main(argv=None):
    p = cli.parser("resolution_switchable.py", __doc__.strip().splitlines()[0])
    p.add_argument("--switchable", action="append", required=True, metavar="RUN",
                   help="the switchable model's run; repeat for runs with other seeds (the "
                        "accuracy table shows their mean ± sd and each; the budget table "
                        "and the parameters the first)")
    p.add_argument("--single", action="append", default=[], metavar="R=RUN",
                   help="a model trained at R alone; repeat a size for runs with other "
                        "seeds (the accuracy table shows their mean ± sd and each; the "
                        "budget table the first)")
    p.add_argument("--latency", help="latency_<n>t.json of the converted switchable model")
    p.add_argument("--tolerance", type=cli.positive(), default=0.5,
                   help="the goal: switchable within this many points at every pair")
    p.add_argument("--title", default="")
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)
    first = _switchable(args.switchable[0])
    switches = [first] + [_switchable(run, first) for run in args.switchable[1:]]
    sizes = [e["resolution"] for e in first["resolutions"]]
    all_runs = {}  # r -> [run, ...]: a size given twice or more = runs with other seeds
    for spec in args.single:
        r, run = _parse_single(spec, sizes)
        all_runs.setdefault(r, []).append(run)
    if args.latency and not Path(args.latency).is_file():
        raise cli.UserError(f"--latency {args.latency}: no such file (tflite/benchmark.py "
                            f"writes latency_<threads>t.json into the converted directory)")
    singles_runs = {r: runs[0] for r, runs in all_runs.items()}
    singles = {r: [_results(run) for run in runs] for r, runs in all_runs.items()}
    rows, worst = accuracy_table(switches, singles)
    several = len(switches) > 1 or any(len(v) > 1 for v in all_runs.values())
    space = joint.JointSpace({r: _logits(args.switchable[0], r, sizes[0]) for r in sizes})
    lines = [f"# Resolution-switchable {args.title}".rstrip(), "",
             f"Date: {datetime.date.today().isoformat()}. CPU: {_cpu()}.", "",
             "Command: `python " + shlex.join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]) + "`",
             "", "## Accuracy per (resolution, exit), test set", "",
             "Switchable: " + " and ".join(args.switchable)
             + f" (epochs {first['epochs']}, best epoch of the first {first['best_epoch']}); "
             "separate: "
             + ", ".join(f"{r}x{r} " + " and ".join(runs) for r, runs in all_runs.items())
             + (" (several runs of a model: mean ± sample sd, and each run in the order "
                "given; difference = of the means; SE = its standard error, "
                "sqrt(sd1²/n1 + sd2²/n2))" if several else ""), "", *rows, "",
             f"Largest shortfall of the switchable model: {worst:+.2f} points.", "",
             *goal_lines(compare(switches, singles), args.tolerance), "",
             params_line(first, singles), "",
             "## What resolution buys at a FLOPs budget (test top-1 %, chosen on the hold-out)",
             "", "Budgets are fractions of the largest side's last exit. largest: that side's "
             "cascade alone; envelope: the side and thresholds with the best hold-out accuracy; "
             "cross: the best cascade that runs a smaller side's early exits first, then a "
             "larger side from scratch."
             + (" First run of each model only." if several else ""), "",
             "| model | budget | policy | test top-1 % | hold-out % | test MFLOPs | cascade |",
             "|---|---|---|---|---|---|---|", *budget_table(space, "switchable")]
    if set(singles_runs) == set(sizes):
        separate = joint.JointSpace({r: _logits(singles_runs[r], r, r) for r in sizes})
        lines += budget_table(separate, "separate")
    if args.latency:
        lines += ["", "## LiteRT latency per (resolution, exit)", "", *latency_table(args.latency)]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

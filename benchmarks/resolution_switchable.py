"""One switchable model against models trained separately at each resolution: tables.

    python benchmarks/resolution_switchable.py --switchable runs/msd_switch \
        --single 32=runs/msd_single_32 --single 24=runs/msd_single_24 \
        --single 16=runs/msd_single_16 --latency runs/msd_switch_tflite/latency_1t.json \
        --title "MSDNet quickstart" --output benchmarks/results/resolution_switchable.md

Reads what the ordinary commands wrote (results.json of every run; logits.npz /
logits_r<R>.npz of `python -m msdnet_tf.evaluate --workdir`; latency_<n>t.json
of `tflite/benchmark.py`) and writes markdown: per (resolution, exit) test
top-1 and FLOPs of both, the difference, and the parameters each needs; the
budgeted answers at 30% and 50% of the largest side's last-exit FLOPs
(largest side alone, envelope over sides, cross-resolution cascades) for the
switchable model and for the three separate models taken together; and the
LiteRT latency per (resolution, exit).
"""

import argparse
import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    return json.loads((Path(run) / "results.json").read_text())


def _logits(run, r, largest):
    name = "logits.npz" if r == largest else f"logits_r{r}.npz"
    return ev.load_logits(Path(run) / name)


def accuracy_table(switch, singles):
    """singles: {r: [results of every separately trained run at r]} (several = seeds)."""
    res = {e["resolution"]: e for e in switch["resolutions"]}
    seeds = max((len(v) for v in singles.values()), default=1)
    rows = ["| input | exit | MFLOPs | switchable top-1 % | separate top-1 % | difference |"
            + (" separate, per run |" if seeds > 1 else ""),
            "|---|---|---|---|---|---|" + ("---|" if seeds > 1 else "")]
    worst = 0.0
    for r, entry in res.items():
        runs = singles.get(r, [])
        for k, (acc, flops) in enumerate(zip(entry["test_top1"],
                                             entry["exit_cumulative_flops"])):
            values = [run["test_top1"][k] for run in runs]
            other = sum(values) / len(values) if values else None
            diff = None if other is None else acc - other
            worst = min(worst, diff) if diff is not None else worst
            row = (f"| {r}x{r} | exit_{k} | {flops / 1e6:.2f} | {acc:.2f} | "
                   + ("-" if other is None else f"{other:.2f}") + " | "
                   + ("-" if diff is None else f"{diff:+.2f}") + " |")
            if seeds > 1:
                row += " " + " / ".join(f"{v:.2f}" for v in values) + " |"
            rows.append(row)
    return rows, worst


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
            "| input | exit | MFLOPs | stage ms | path ms | truncated ms |", "|---|---|---|---|---|---|"]
    for side in data.get("resolutions", [data]):
        r = side.get("resolution", data.get("resolution"))
        for e in side["exits"]:
            rows.append(f"| {r}x{r} | exit_{e['exit']} | {e['cumulative_flops'] / 1e6:.2f} | "
                        f"{e['stage_ms']:.3f} | {e['path_ms']:.3f} | {e['truncated_ms']:.3f} |")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--switchable", required=True)
    p.add_argument("--single", action="append", default=[], metavar="R=RUN",
                   help="a model trained at R alone; repeat a size for runs with other "
                        "seeds (the table shows their mean and each; the budget table the "
                        "first)")
    p.add_argument("--latency", help="latency_<n>t.json of the converted switchable model")
    p.add_argument("--title", default="")
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)
    switch = _results(args.switchable)
    sizes = [e["resolution"] for e in switch["resolutions"]]
    all_runs = {}  # r -> [run, ...]: a size given twice or more = runs with other seeds
    for spec in args.single:
        r, run = spec.split("=", 1)
        all_runs.setdefault(int(r), []).append(run)
    singles_runs = {r: runs[0] for r, runs in all_runs.items()}
    singles = {r: [_results(run) for run in runs] for r, runs in all_runs.items()}
    rows, worst = accuracy_table(switch, singles)
    space = joint.JointSpace({r: _logits(args.switchable, r, sizes[0]) for r in sizes})
    lines = [f"# Resolution-switchable {args.title}".rstrip(), "",
             f"Date: {datetime.date.today().isoformat()}. CPU: {_cpu()}.", "",
             "Command: `python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]) + "`",
             "", "## Accuracy per (resolution, exit), test set", "",
             f"Switchable: {args.switchable} (epochs {switch['epochs']}, best epoch "
             f"{switch['best_epoch']}); separate: "
             + ", ".join(f"{r}x{r} " + " and ".join(runs) for r, runs in all_runs.items())
             + (" (several runs at a size: their mean, and each run)"
                if any(len(v) > 1 for v in all_runs.values()) else ""), "", *rows, "",
             f"Largest shortfall of the switchable model: {worst:+.2f} points.", "",
             params_line(switch, singles), "",
             "## What resolution buys at a FLOPs budget (test top-1 %, chosen on the hold-out)",
             "", "Budgets are fractions of the largest side's last exit. largest: that side's "
             "cascade alone; envelope: the side and thresholds with the best hold-out accuracy; "
             "cross: the best cascade that runs a smaller side's early exits first, then a "
             "larger side from scratch.", "",
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

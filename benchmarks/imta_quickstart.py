"""IMTA on a quickstart config: plain vs gradient equilibrium vs GE + ISC + distillation.

    .venv/bin/python benchmarks/imta_quickstart.py --config configs/quickstart.yaml \\
        --root runs/imta_msdnet --seeds 0 1
    .venv/bin/python benchmarks/imta_quickstart.py --report runs/imta_msdnet [runs/imta_ranet] \\
        --output benchmarks/results/imta

Trains (and evaluates with `msdnet_tf.evaluate`) per seed, every run in ROOT/<variant>_s<seed>
(resumable: a run with results.json and budgeted.json is kept):
    plain      train.epochs epochs, sum of cross-entropies
    ge         the same with train.gradient_equilibrium
    ge_half    GE, the same epochs with half the steps per epoch (stage 1)
    imta       stage 2 from ge_half, the other half of the steps: equal total steps to plain
    imta_long  stage 2 from ge, full epochs: the authors' recipe (stage 1 + as many epochs
               again), twice the budget
    isc_long   the same with train.imta.gamma=0: ISC heads without distillation (ablation)
    plain_long plain training for twice the epochs: the control at imta_long's step count
Each half keeps the step schedule (lr x lr_decay at the same fractions of its own epochs).
`--report` averages the runs over seeds into OUTPUT.json, OUTPUT.md (per-exit test top-1,
FLOPs, budgeted-batch points) and OUTPUT.png (budgeted curves).
"""

import argparse
import datetime
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VARIANTS = ("plain", "ge", "ge_half", "imta", "imta_long", "isc_long", "plain_long")
LABELS = {"plain": "plain (sum of CE)", "ge": "GE",
          "imta": "GE + ISC + KD, equal steps (1/2 + 1/2)",
          "imta_long": "GE + ISC + KD, authors' recipe (1 + 1, 2x steps)",
          "ge_half": "GE, first half (stage 1 of imta)",
          "isc_long": "GE + ISC, no KD (gamma 0), 1 + 1",
          "plain_long": "plain, 2x epochs (2x steps)"}
Q_SHOWN = (0.25, 0.5, 1.0, 1.5)  # budgeted points listed in the table


def steps_per_epoch(config, overrides):
    from msdnet_tf import config as config_lib
    from msdnet_tf import data as data_lib

    cfg = config_lib.load_config(config, overrides)
    return cfg, data_lib.build_from_config(cfg, None).steps_per_epoch(cfg.train.batch_size)


def _run(cmd, log):
    start = time.time()
    with open(log, "a") as f:
        f.write(" ".join(map(str, cmd)) + "\n")
        f.flush()
        subprocess.run([str(c) for c in cmd], cwd=REPO, stdout=f, stderr=subprocess.STDOUT,
                       check=True)
    return time.time() - start


def train_and_evaluate(config, workdir, overrides, log):
    if (workdir / "results.json").is_file() and (workdir / "budgeted.json").is_file():
        return
    cmd = [sys.executable, "-m", "msdnet_tf.train", "--config", config, "--workdir", workdir,
           "--quiet"]
    for o in overrides:
        cmd += ["--override", o]
    _run(cmd, log)
    _run([sys.executable, "-m", "msdnet_tf.evaluate", "--workdir", workdir], log)


def run_all(config, root, seeds, extra):
    root.mkdir(parents=True, exist_ok=True)
    cfg, steps = steps_per_epoch(config, extra)
    first = math.ceil(steps / 2)
    plan = {"config": str(config), "overrides": extra, "steps_per_epoch": steps,
            "stage1_steps_per_epoch": first, "stage2_steps_per_epoch": steps - first,
            "epochs": cfg.train.epochs, "seeds": seeds}
    (root / "plan.json").write_text(json.dumps(plan, indent=1))
    log = root / "log.txt"
    for seed in seeds:
        base = [*extra, f"train.seed={seed}"]
        runs = {
            "plain": base,
            "ge": [*base, "train.gradient_equilibrium=true"],
            "ge_half": [*base, "train.gradient_equilibrium=true",
                        f"train.steps_per_epoch={first}"],
            "imta": [*base, f"train.imta.from={root / f'ge_half_s{seed}'}",
                     f"train.steps_per_epoch={steps - first}"],
            "imta_long": [*base, f"train.imta.from={root / f'ge_s{seed}'}"],
            "isc_long": [*base, f"train.imta.from={root / f'ge_s{seed}'}", "train.imta.gamma=0"],
            "plain_long": [*base, f"train.epochs={2 * cfg.train.epochs}"],
        }
        for name, overrides in runs.items():
            print(f"{name} seed {seed}", flush=True)
            train_and_evaluate(config, root / f"{name}_s{seed}", overrides, log)


# ------------------------------------------------------------------ report
def _read(workdir):
    results = json.loads((workdir / "results.json").read_text())
    budgeted = json.loads((workdir / "budgeted.json").read_text())
    history = [json.loads(line) for line in (workdir / "history.jsonl").read_text().splitlines()]
    return {"test_top1": results["test_top1"], "val_top1": results["val_top1"],
            "flops": results["exit_cumulative_flops"],
            "params": results["exit_cumulative_params"][-1],
            "train_seconds": sum(r["seconds"] for r in history),
            "budgeted": [(p["q"], p["expected_flops"], p["test_accuracy"])
                         for p in budgeted["points"]]}


def _mean(values):
    return float(np.mean(values))


def summarise(root):
    plan = json.loads((root / "plan.json").read_text())
    out = {"plan": plan, "variants": {}}
    for name in VARIANTS:
        runs = [_read(root / f"{name}_s{s}") for s in plan["seeds"]
                if (root / f"{name}_s{s}" / "budgeted.json").is_file()]
        if not runs:
            continue
        test = np.array([r["test_top1"] for r in runs])
        curve = np.array([[p[1:] for p in r["budgeted"]] for r in runs])  # seed, q, (flops, acc)
        out["variants"][name] = {
            "label": LABELS[name], "seeds": len(runs),
            "test_top1_per_seed": test.tolist(), "test_top1_mean": test.mean(0).tolist(),
            "exit_cumulative_flops": runs[0]["flops"], "params": runs[0]["params"],
            # Wall time on a CPU shared with other jobs: not a speed measurement.
            "train_seconds_mean": _mean([r["train_seconds"] for r in runs]),
            "budgeted_q": [p[0] for p in runs[0]["budgeted"]],
            "budgeted_flops_mean": curve[:, :, 0].mean(0).tolist(),
            "budgeted_test_top1_mean": curve[:, :, 1].mean(0).tolist(),
            "budgeted_test_top1_per_seed": curve[:, :, 1].tolist(),
        }
    return out


def _markdown_family(title, data):
    lines = [f"### {title}", "", f"Config `{data['plan']['config']}`"
             + (f" with {' '.join(data['plan']['overrides'])}" if data["plan"]["overrides"] else "")
             + f"; {data['plan']['epochs']} epochs of {data['plan']['steps_per_epoch']} steps; "
             f"stage 1 of `imta`: {data['plan']['epochs']} x {data['plan']['stage1_steps_per_epoch']}"
             f" steps, stage 2: {data['plan']['epochs']} x "
             f"{data['plan']['stage2_steps_per_epoch']}; seeds {data['plan']['seeds']}.", ""]
    variants = data["variants"]
    for v in variants.values():  # a variant not run for every seed says so
        if v["seeds"] < len(data["plan"]["seeds"]) and "seed" not in v["label"]:
            v["label"] += f" [{v['seeds']} of {len(data['plan']['seeds'])} seeds]"
    k = len(next(iter(variants.values()))["test_top1_mean"])
    header = "| variant | " + " | ".join(f"exit {i}" for i in range(k)) + " |"
    lines += ["Per-exit test top-1 (%), mean of the seeds (each seed in brackets):", "",
              header, "|---" * (k + 1) + "|"]
    for name, v in variants.items():
        cells = [f"{m:.2f} ({', '.join(f'{s[i]:.2f}' for s in v['test_top1_per_seed'])})"
                 for i, m in enumerate(v["test_top1_mean"])]
        lines.append(f"| {v['label']} | " + " | ".join(cells) + " |")
    lines += ["", "Cumulative FLOPs (multiply-adds) per exit and parameters:", "",
              "| variant | " + " | ".join(f"exit {i}" for i in range(k)) + " | params |",
              "|---" * (k + 2) + "|"]
    for name, v in variants.items():
        lines.append(f"| {v['label']} | " + " | ".join(f"{f / 1e6:.4f}M" for f in
                                                    v["exit_cumulative_flops"])
                     + f" | {v['params']:,} |")
    qs = next(iter(variants.values()))["budgeted_q"]
    shown = [i for i, q in enumerate(qs) if any(abs(q - s) < 1e-9 for s in Q_SHOWN)]
    lines += ["", "Budgeted batch classification (hold-out thresholds, test set), mean of the "
              "seeds: expected FLOPs / top-1 at exit-share q:", "",
              "| variant | " + " | ".join(f"q = {qs[i]:g}" for i in shown) + " |",
              "|---" * (len(shown) + 1) + "|"]
    for name, v in variants.items():
        lines.append(f"| {v['label']} | " + " | ".join(
            f"{v['budgeted_flops_mean'][i] / 1e6:.2f}M / {v['budgeted_test_top1_mean'][i]:.2f}"
            for i in shown) + " |")
    return lines


def plot(report, path):
    from matplotlib.figure import Figure

    families = report["families"]
    fig = Figure(figsize=(6.4 * len(families), 4.8), dpi=100)
    for i, (title, data) in enumerate(families.items()):
        ax = fig.add_subplot(1, len(families), i + 1)
        for name, v in data["variants"].items():
            if name == "ge_half":
                continue
            ax.plot(np.array(v["budgeted_flops_mean"]) / 1e6, v["budgeted_test_top1_mean"],
                    "-", label=v["label"])
            ax.plot(np.array(v["exit_cumulative_flops"]) / 1e6, v["test_top1_mean"], "o",
                    color=ax.lines[-1].get_color())
        ax.set_title(f"{title}: budgeted batch (lines), exits (dots)")
        ax.set_xlabel("expected FLOPs per image (M multiply-adds)")
        ax.set_ylabel("test top-1 (%), mean of seeds")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png")


def machine():
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines()
                  if line.startswith("Model name")), platform.processor())
    cores = next((line.split(":", 1)[1].strip() for line in cpu.splitlines()
                  if line.startswith("CPU(s)")), "?")
    return f"{model}, {cores} CPUs"


def report(roots, output):
    families = {}
    for root in roots:
        data = summarise(Path(root))
        family = _family(Path(root) / f"plain_s{data['plan']['seeds'][0]}")
        families[family] = data
    out = {"date": datetime.date.today().isoformat(), "machine": machine(),
           "families": families}
    output = Path(output)
    output.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    plot(out, output.with_suffix(".png"))
    lines = []
    for title, data in families.items():
        lines += _markdown_family(title, data) + [""]
    output.with_name(output.name + "_tables.md").write_text("\n".join(lines))
    print("\n".join(lines))


def _family(workdir):
    import yaml

    return yaml.safe_load((workdir / "config.yaml").read_text())["model"]["family"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", help="the quickstart config of a family")
    p.add_argument("--root", help="where the runs go")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--override", action="append", default=[],
                   help="extra config override for every run")
    p.add_argument("--report", nargs="+", metavar="ROOT", help="summarise these roots")
    p.add_argument("--output", default="benchmarks/results/imta")
    args = p.parse_args()
    if args.report:
        report(args.report, args.output)
        return
    if not (args.config and args.root):
        p.error("--config and --root are needed to train (or give --report ROOT...)")
    run_all(Path(args.config), Path(args.root), args.seeds, args.override)


if __name__ == "__main__":
    main()

"""Outputs of the joint (resolution, exit) evaluation: resolutions.json, resolutions.png, tables.

resolutions.json:
    {"resolutions": [r0, r1, ...], "num_val", "num_test", "model",
     "anytime": [{"resolution", "exit", "top1", "top5", "cumulative_flops",
                  "cumulative_params"}],            # test set, every (r, exit)
     "budgeted": [{"resolution", "exit_cumulative_flops",
                   "points": [... budgeted.json points of that side ...]}],
     "envelope": [{"candidate", "resolution", "q", "val_expected_flops", "val_accuracy",
                   "expected_flops", "test_accuracy"}],  # hold-out Pareto front of the
                                                         # single-resolution cascades
     "envelope_with_cross": [... the same, cross-resolution cascades allowed ...],
     "at_fractions": [{"fraction", "budget_flops", "largest", "envelope", "cross"}]}

`at_fractions` answers "what does resolution buy": at a FLOPs budget of a
fraction of the largest side's last exit, the largest side's own cascade, the
envelope (best side and thresholds) and the best cross-resolution cascade,
each as chosen on the hold-out and measured on the test set.
"""

from pathlib import Path

from msdnet_tf.evaluation import resolution as joint
from msdnet_tf.evaluation.budgets import encode_q
from msdnet_tf.evaluation.common import encode_float, write_json
from msdnet_tf.evaluation.report import _point_json, _table

FRACTIONS = (0.1, 0.2, 0.3, 0.5)


def choice_json(choice):
    p, r = choice.result.point, choice.result
    return {"candidate": choice.candidate.name, "resolution": choice.resolution,
            "q": encode_q(p.q), "thresholds": [encode_float(t) for t in p.thresholds],
            "val_accuracy": p.val.accuracy, "test_accuracy": p.test.accuracy,
            "val_cost": r.val_cost, "test_cost": r.test_cost,
            "test_exit_fractions": list(p.test.fractions)}


def at_fractions(space, fractions=FRACTIONS):
    """Per fraction: the largest side alone, the envelope and the best cross path."""
    out = []
    last = space.costs[space.sizes[0]][-1]
    singles, crosses = space.singles(), space.crosses()
    for f in fractions:
        b = f * last
        row = {"fraction": f, "budget_flops": b}
        for key, candidates in (("largest", singles[:1]), ("envelope", singles),
                                ("cross", crosses)):
            try:
                row[key] = choice_json(joint.choose(candidates, "flops", b))
            except joint.EvaluationError as e:
                row[key] = {"error": str(e)}
        out.append(row)
    return out


def _envelope_json(rows):
    return [{"candidate": name, "resolution": r, "q": encode_q(q), "val_expected_flops": vc,
             "val_accuracy": va, "expected_flops": tc, "test_accuracy": ta}
            for name, r, q, vc, va, tc, ta in rows]


def report_json(space, model=None, num_q=39):
    singles = space.singles()
    curves = []
    for c in singles:
        flops = list(space.flops[c.resolution])
        points = [_point_json(p, flops) for p, *_ in joint.curve_points(c, num_q)[:num_q]]
        curves.append({"resolution": c.resolution, "exit_cumulative_flops": flops,
                       "points": points})
    first = space.sets[space.sizes[0]]
    return {
        "resolutions": list(space.sizes), "num_val": int(first.val_labels.shape[0]),
        "num_test": int(first.test_labels.shape[0]), "model": model,
        "anytime": joint.anytime_table(space),
        "budgeted": curves,
        "envelope": _envelope_json(joint.envelope(singles, num_q)),
        "envelope_with_cross": _envelope_json(joint.envelope(singles + space.crosses(), num_q)),
        "at_fractions": at_fractions(space),
    }


def plot(report, path):
    """Anytime per side (left); budgeted curve per side, envelope, cross paths (right)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.8, 4.8), dpi=100)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for r in report["resolutions"]:
        rows = [a for a in report["anytime"] if a["resolution"] == r]
        left.plot([a["cumulative_flops"] for a in rows], [a["top1"] for a in rows], "o-",
                  label=f"{r}x{r}, exit_0 ... exit_{len(rows) - 1}")
    for curve in report["budgeted"]:
        right.plot([p["expected_flops"] for p in curve["points"]],
                   [p["test_accuracy"] for p in curve["points"]], ".-", markersize=3,
                   label=f"{curve['resolution']}x{curve['resolution']} cascade")
    for key, style, label in (("envelope", "k-", "envelope over resolutions"),
                              ("envelope_with_cross", "k:", "with cross-resolution cascades")):
        rows = report[key]
        right.plot([e["expected_flops"] for e in rows], [e["test_accuracy"] for e in rows], style,
                   linewidth=1.5, label=label + " (hold-out Pareto front)")
    for ax, title in ((left, "Anytime prediction per resolution (test set)"),
                      (right, "Budgeted batch classification (test set)")):
        ax.set_title(title)
        ax.set_xlabel("FLOPs per image (multiply-adds)")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    from msdnet_tf.workdir import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def write(report, out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {"resolutions.json": write_json(out / "resolutions.json", report),
            "resolutions.png": plot(report, out / "resolutions.png")}


def _mflops(x):
    return f"{x / 1e6:,.2f}"


def format_tables(report):
    """The anytime table per (resolution, exit) and the budgets' answers, as text."""
    k = next(key for key in report["anytime"][0] if key.startswith("top") and key != "top1")
    rows = [[f"{a['resolution']}x{a['resolution']}", f"exit_{a['exit']}", f"{a['top1']:.2f}",
             f"{a[k]:.2f}", _mflops(a["cumulative_flops"])] for a in report["anytime"]]
    text = [f"Anytime prediction per resolution, test set ({report['num_test']} images)",
            _table(["input", "exit", "top-1 %", f"{k.replace('top', 'top-')} %", "MFLOPs"],
                   rows), ""]
    rows = []
    for row in report["at_fractions"]:
        for key in ("largest", "envelope", "cross"):
            c = row[key]
            if "error" in c:
                rows.append([f"{row['fraction']:.0%}", key, "-", "-", "-", c["error"][:40]])
                continue
            rows.append([f"{row['fraction']:.0%} ({_mflops(row['budget_flops'])}M)", key,
                         f"{c['test_accuracy']:.2f}", f"{c['val_accuracy']:.2f}",
                         _mflops(c["test_cost"]), c["candidate"]])
    text += ["Budgets as a fraction of the largest input's last exit (chosen on the hold-out)",
             _table(["budget", "policy", "test top-1 %", "hold-out %", "test MFLOPs", "cascade"],
                    rows)]
    return "\n".join(text)

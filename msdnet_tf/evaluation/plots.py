"""anytime.png and budgeted.png: accuracy against FLOPs, as in the paper's
figures, with the published curves overlaid when given.

Uses matplotlib's object-oriented API (no pyplot), which renders with Agg and
leaves the process-wide backend alone.
"""

from pathlib import Path


def _figure(title):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel("FLOPs per image (multiply-adds)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(True, alpha=0.3)
    return fig, ax


_OVERLAY_COLORS = ("tab:gray", "tab:green", "tab:purple", "tab:brown")


def _overlay(ax, curves):
    for curve, color in zip(curves, _OVERLAY_COLORS):
        style = "s--" if curve.complete else "s:"
        ax.plot(curve.flops, curve.top1, style, color=color, label=curve.label)


def _save(fig, ax, path):
    from msdnet_tf.workdir import atomic_path

    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def plot_anytime(result, path, published=()):
    """Top-1 of every exit against its cumulative FLOPs; returns the path."""
    fig, ax = _figure("Anytime prediction (test set)")
    flops = [e.flops for e in result.anytime]
    ax.plot(flops, [e.top1 for e in result.anytime], "o-", color="tab:blue",
            label="this model, exit_0 ... exit_%d" % (result.num_exits - 1))
    _overlay(ax, published)
    return _save(fig, ax, path)


def plot_budgeted(result, path, published=()):
    """Test accuracy against expected FLOPs, one point per q; returns the path."""
    fig, ax = _figure("Budgeted batch classification (test set)")
    flops = [p.test.expected_cost(result.exit_flops) for p in result.curve]
    ax.plot(flops, [p.test.accuracy for p in result.curve], "o-", markersize=3,
            color="tab:blue", label="this model, q = 1/20 ... %d/20" % len(result.curve))
    ax.plot([e.flops for e in result.anytime], [e.top1 for e in result.anytime], "x",
            color="tab:orange", label="this model, single exits")
    if result.budget is not None:
        p = result.budget.point
        ax.plot([p.test.expected_cost(result.exit_flops)], [p.test.accuracy], "*",
                markersize=14, color="tab:red", label="chosen for the budget")
    _overlay(ax, published)
    return _save(fig, ax, path)

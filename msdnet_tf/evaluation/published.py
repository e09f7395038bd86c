"""The papers' published curves, for overlaying on our plots.

Each model family keeps its own (`msdnet_tf/models/<family>/published.py`,
`PUBLISHED = {dataset: {"anytime" | "budgeted": PublishedCurve}}`); this module
looks them up by dataset across every family, so a plot of a CIFAR-100 run
shows every network of this line of work the papers report on CIFAR-100.
"""

import dataclasses

KINDS = ("anytime", "budgeted")
_ALIASES = {"imagenet": "imagenet2012", "cifar-10": "cifar10", "cifar-100": "cifar100"}
# Datasets msdnet_tf knows that have no published curve.
_UNPUBLISHED = ("fashion_mnist", "digits", "none")


@dataclasses.dataclass(frozen=True)
class PublishedCurve:
    """Accuracy (top-1, %) against FLOPs; `exits` names the exit of each point
    when the curve is per exit (anytime), else None (budgeted)."""

    label: str
    flops: tuple
    top1: tuple
    exits: tuple | None
    complete: bool
    source: str = ""


def published_table():
    """{family: {dataset: {kind: PublishedCurve}}} of every registered family."""
    from msdnet_tf.models import family

    return {f.name: f.published for f in family.all_families()}


def _datasets():
    return sorted({d for curves in published_table().values() for d in curves})


def keys():
    """Every name `--published` accepts."""
    return tuple(_datasets()) + tuple(_ALIASES) + _UNPUBLISHED


def _dataset_key(dataset):
    key = _ALIASES.get(dataset, dataset)
    if key not in _UNPUBLISHED and key not in _datasets():
        raise ValueError(f"unknown dataset for published curves; choose one of "
                         f"{', '.join(keys())}. Received: {dataset!r}")
    return key


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be 'anytime' or 'budgeted'. Received: kind={kind!r}")


def published_curve(dataset, kind, family="msdnet"):
    """One family's published `kind` curve for `dataset`, or None.

    `dataset` is a config `data.dataset` name (or an alias such as "imagenet");
    None or a dataset without a published curve gives None; an unknown name is
    a ValueError.
    """
    _check_kind(kind)
    if dataset is None:
        return None
    key = _dataset_key(dataset)
    return published_table().get(family, {}).get(key, {}).get(kind)


def published_curves(dataset, kind):
    """Every family's published `kind` curve for `dataset` (a tuple, maybe empty)."""
    _check_kind(kind)
    if dataset is None:
        return ()
    key = _dataset_key(dataset)
    return tuple(curves[key][kind] for curves in published_table().values()
                 if kind in curves.get(key, {}))

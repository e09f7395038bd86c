"""The paper's published MSDNet curves, for overlaying on our plots.

Source: Huang et al., "Multi-Scale Dense Networks for Resource Efficient Image
Classification" (ICLR 2018), as read from the figures of the RANet repository
(+-0.5 accuracy points) and recorded in docs/msdnet-spec.md ("Published MSDNet
curves"). Only the values stated there are kept: where the spec gives a range
("89.5 ... 93.7") the curve holds just its end points (`complete=False`).

FLOPs of the CIFAR-100 anytime exits are the reference port's cumulative counts
for that network (shared/reference/counts.json). CIFAR-10 uses the same network
with a 10-way classifier: each Dense layer is 128*100+100 - (128*10+10) = 11,610
multiply-adds cheaper, so exit k (0-based) costs 11,610 * (k+1) less.
"""

import dataclasses

SOURCE = ("Huang et al., ICLR 2018; MSDNet curves read from the RANet repository's "
          "figures (+-0.5), per docs/msdnet-spec.md")

_CIFAR100_ANYTIME_FLOPS = (
    15140452, 25505992, 37788460, 52061840, 62181620,
    74070872, 87729596, 100038944, 110121860, 121679336,
)
_CIFAR10_DENSE_SAVING = 128 * 100 + 100 - (128 * 10 + 10)


@dataclasses.dataclass(frozen=True)
class PublishedCurve:
    """Accuracy (top-1, %) against FLOPs; `exits` names the exit of each point
    when the curve is per exit (anytime), else None (budgeted)."""

    label: str
    flops: tuple
    top1: tuple
    exits: tuple | None
    complete: bool
    source: str = SOURCE


PUBLISHED = {
    "cifar100": {
        "anytime": PublishedCurve(
            label="MSDNet (paper), CIFAR-100 anytime",
            flops=_CIFAR100_ANYTIME_FLOPS,
            top1=(61.3, 64.6, 67.5, 69.4, 70.8, 72.1, 72.7, 73.9, 74.0, 74.1),
            exits=tuple(range(10)), complete=True,
        ),
        "budgeted": PublishedCurve(
            label="MSDNet (paper), CIFAR-100 budgeted",
            flops=(0.2e8, 0.3e8, 0.5e8), top1=(69.0, 72.3, 74.3), exits=None, complete=False,
        ),
    },
    "cifar10": {
        "anytime": PublishedCurve(
            label="MSDNet (paper), CIFAR-10 anytime (end points)",
            flops=(_CIFAR100_ANYTIME_FLOPS[0] - _CIFAR10_DENSE_SAVING,
                   _CIFAR100_ANYTIME_FLOPS[9] - 10 * _CIFAR10_DENSE_SAVING),
            top1=(89.5, 93.7), exits=(0, 9), complete=False,
        ),
    },
    "imagenet2012": {
        "anytime": PublishedCurve(
            label="MSDNet (paper), ImageNet step-7 anytime (end points)",
            flops=(0.62e9, 3.25e9), top1=(62.3, 74.7), exits=(0, 4), complete=False,
        ),
    },
}

_ALIASES = {"imagenet": "imagenet2012", "cifar-10": "cifar10", "cifar-100": "cifar100"}
# Datasets msdnet_tf knows that have no published MSDNet curve.
_UNPUBLISHED = ("fashion_mnist", "digits", "none")
KEYS = tuple(PUBLISHED) + tuple(_ALIASES) + _UNPUBLISHED


def published_curve(dataset, kind):
    """The published `kind` ("anytime" or "budgeted") curve for `dataset`, or None.

    `dataset` is a config `data.dataset` name (or an alias such as "imagenet");
    None or a dataset without a published curve gives None; an unknown name is
    a ValueError.
    """
    if kind not in ("anytime", "budgeted"):
        raise ValueError(f"kind must be 'anytime' or 'budgeted'. Received: kind={kind!r}")
    if dataset is None:
        return None
    key = _ALIASES.get(dataset, dataset)
    if key in _UNPUBLISHED:
        return None
    if key not in PUBLISHED:
        raise ValueError(f"unknown dataset for published curves; choose one of "
                         f"{', '.join(KEYS)}. Received: {dataset!r}")
    return PUBLISHED[key].get(kind)

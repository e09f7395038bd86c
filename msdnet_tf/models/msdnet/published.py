"""MSDNet's published curves (Huang et al., ICLR 2018), for overlaying on our plots.

Read from the figures of the RANet repository (+-0.5 accuracy points) and
recorded in docs/msdnet-spec.md ("Published MSDNet curves"). Only the values
stated there are kept: where the spec gives a range ("89.5 ... 93.7") the
curve holds just its end points (`complete=False`).

FLOPs of the CIFAR-100 anytime exits are the reference port's cumulative counts
for that network (shared/reference/counts.json). CIFAR-10 uses the same network
with a 10-way classifier: each Dense layer is 128*100+100 - (128*10+10) = 11,610
multiply-adds cheaper, so exit k (0-based) costs 11,610 * (k+1) less.
"""

from msdnet_tf.evaluation.published import PublishedCurve

SOURCE = ("Huang et al., ICLR 2018; MSDNet curves read from the RANet repository's "
          "figures (+-0.5), per docs/msdnet-spec.md")

_CIFAR100_ANYTIME_FLOPS = (
    15140452, 25505992, 37788460, 52061840, 62181620,
    74070872, 87729596, 100038944, 110121860, 121679336,
)
_CIFAR10_DENSE_SAVING = 128 * 100 + 100 - (128 * 10 + 10)


PUBLISHED = {
    "cifar100": {
        "anytime": PublishedCurve(
            label="MSDNet (paper), CIFAR-100 anytime",
            flops=_CIFAR100_ANYTIME_FLOPS,
            top1=(61.3, 64.6, 67.5, 69.4, 70.8, 72.1, 72.7, 73.9, 74.0, 74.1),
            exits=tuple(range(10)), complete=True, source=SOURCE,
        ),
        "budgeted": PublishedCurve(
            label="MSDNet (paper), CIFAR-100 budgeted",
            flops=(0.2e8, 0.3e8, 0.5e8), top1=(69.0, 72.3, 74.3), exits=None, complete=False,
            source=SOURCE,
        ),
    },
    "cifar10": {
        "anytime": PublishedCurve(
            label="MSDNet (paper), CIFAR-10 anytime (end points)",
            flops=(_CIFAR100_ANYTIME_FLOPS[0] - _CIFAR10_DENSE_SAVING,
                   _CIFAR100_ANYTIME_FLOPS[9] - 10 * _CIFAR10_DENSE_SAVING),
            top1=(89.5, 93.7), exits=(0, 9), complete=False, source=SOURCE,
        ),
    },
    "imagenet2012": {
        "anytime": PublishedCurve(
            label="MSDNet (paper), ImageNet step-7 anytime (end points)",
            flops=(0.62e9, 3.25e9), top1=(62.3, 74.7), exits=(0, 4), complete=False,
            source=SOURCE,
        ),
    },
}

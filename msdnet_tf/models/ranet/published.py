"""RANet's published curves (Yang et al., CVPR 2020), for overlaying on our plots.

Read from the two result figures of the reference repository's README
(`imgs/anytime_results.png`, `imgs/dynamic_results.png`, the paper's plots),
+-0.3 accuracy, as recorded in docs/ranet-spec.md ("Published numbers").

Anytime curves are per exit of the published anytime networks; their FLOPs are
the reference op counter's cumulative counts of those networks
(shared/reference/ranet/counts.json: `cifar10_train_script`,
`cifar100_train_script`, `imagenet_c64_figure`), which msdnet_tf.summary
reproduces exactly. Budgeted curves are the upper envelope of the several
RANets the figure overlays (their configurations are not published), so they
have no exits.
"""

from msdnet_tf.evaluation.published import PublishedCurve

SOURCE = ("Yang et al., CVPR 2020; RANet curves read from the figures of "
          "yangle15/RANet-pytorch (+-0.3), per docs/ranet-spec.md")

_CIFAR10_ANYTIME_FLOPS = (15814410, 31283220, 44655390, 50358312, 60654578, 63647996,
                          90173958, 94904592)
_CIFAR100_ANYTIME_FLOPS = (15826020, 31306440, 44690220, 50404752, 60712628, 63717656,
                           90255228, 94997472)
_IMAGENET_ANYTIME_FLOPS = (434968808, 888669904, 1153356020, 1352449308, 2279913603,
                           2588473759, 3235517799, 3333484943)


def _anytime(label, flops, top1):
    return PublishedCurve(label=label, flops=flops, top1=top1, exits=tuple(range(len(flops))),
                          complete=True, source=SOURCE)


def _budgeted(label, flops, top1):
    return PublishedCurve(label=label, flops=flops, top1=top1, exits=None, complete=False,
                          source=SOURCE)


PUBLISHED = {
    "cifar10": {
        "anytime": _anytime("RANet (paper), CIFAR-10 anytime", _CIFAR10_ANYTIME_FLOPS,
                            (91.3, 91.9, 93.1, 93.1, 93.2, 93.3, 93.5, 93.7)),
        "budgeted": _budgeted("RANet (paper), CIFAR-10 budgeted",
                              (0.12e8, 0.15e8, 0.2e8, 0.3e8, 0.4e8, 0.5e8),
                              (91.3, 92.0, 92.9, 93.6, 94.0, 94.2)),
    },
    "cifar100": {
        "anytime": _anytime("RANet (paper), CIFAR-100 anytime", _CIFAR100_ANYTIME_FLOPS,
                            (66.3, 69.4, 71.7, 71.6, 72.3, 72.4, 73.8, 74.4)),
        "budgeted": _budgeted("RANet (paper), CIFAR-100 budgeted",
                              (0.15e8, 0.2e8, 0.3e8, 0.4e8, 0.5e8, 0.6e8, 0.7e8),
                              (69.4, 71.1, 73.3, 74.3, 75.0, 75.5, 75.7)),
    },
    "imagenet2012": {
        "anytime": _anytime("RANet (paper), ImageNet anytime", _IMAGENET_ANYTIME_FLOPS,
                            (63.1, 67.4, 69.5, 70.4, 74.0, 74.6, 74.6, 74.8)),
        "budgeted": _budgeted("RANet (paper), ImageNet budgeted",
                              (0.6e9, 0.8e9, 1.0e9, 1.2e9, 1.5e9, 2.0e9),
                              (68.8, 71.0, 72.4, 73.4, 74.6, 75.1)),
    },
}

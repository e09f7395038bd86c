"""The reference PyTorch port, imported from a checkout given by path.

    net = build(path_to_checkout, seed=0, **msdnet_kwargs)

`path_to_checkout` is a clone of kalviny/MSDNet-PyTorch; its `models/msdnet.py` is
imported as it is (nothing of it is copied into this project) and built with the
argparse namespace its main.py would pass for our model keyword arguments (the
`model` section of a config; cifar stem with 10 or 100 classes, as the port builds
classifiers for cifar10 / cifar100 only). Its own weight initialiser never reaches
a Conv2d or Linear, so the network starts from PyTorch's defaults.

Importing this module imports neither torch nor TensorFlow.
"""

import argparse
import contextlib
import importlib.util
import io
from pathlib import Path


class ReferencePortError(SystemExit):
    """The checkout or the configuration does not fit the reference port."""


def load_module(path):
    """The checkout's models/msdnet.py as a module."""
    file = Path(path) / "models" / "msdnet.py"
    if not file.is_file():
        raise ReferencePortError(f"--reference {path}: no models/msdnet.py there; give the path "
                              "of a kalviny/MSDNet-PyTorch checkout")
    spec = importlib.util.spec_from_file_location("reference_msdnet", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def namespace(stem="cifar", num_blocks=10, step_mode="even", step=2, base=4, num_channels=16,
              growth_rate=6, growth_factors=(1, 2, 4), bottleneck_factors=(1, 2, 4),
              bottleneck=True, reduction=0.5, prune="max", num_classes=100, image_size=32,
              **_ignored):
    """The reference's argparse namespace (its args.py names) for MSDNet keyword args."""
    if stem != "cifar" or num_classes not in (10, 100) or image_size != 32:
        raise ReferencePortError("the reference port builds the cifar stem at 32x32 with 10 or "
                              f"100 classes only; got stem={stem}, num_classes={num_classes}, "
                              f"image_size={image_size}")
    return argparse.Namespace(
        data="cifar10" if num_classes == 10 else "cifar100", nBlocks=num_blocks,
        nChannels=num_channels, base=base, stepmode=step_mode, step=step,
        growthRate=growth_rate, grFactor=list(growth_factors),
        bnFactor=list(bottleneck_factors), nScales=len(growth_factors), prune=prune,
        bottleneck=bottleneck, reduction=reduction)


def build(path, seed=None, **msdnet_kwargs):
    """torch.manual_seed(seed) (if given), then the port's MSDNet, as its main.py does."""
    import torch

    module = load_module(path)
    args = namespace(**msdnet_kwargs)
    if seed is not None:
        torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its layer plan
        return module.MSDNet(args)

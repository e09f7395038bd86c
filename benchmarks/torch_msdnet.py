"""A PyTorch MSDNet, the yardstick for benchmarks/train_throughput.py.

Built from the same layer plan as the Keras model (`msdnet_tf.models.msdnet.plan`),
in NCHW, with the reference port's module names, so that a reference
state_dict (or `msdnet_tf.weights.export_state_dict(keras_model)`) loads into
it with `strict=True`. tests/benchmarks/test_torch_msdnet.py checks that its
logits equal the reference's test vectors and the Keras model's, and that its
parameter count equals the Keras model's: the training-speed comparison is
between the same network in both frameworks.

Like the reference, it computes every layer of the plan, including finer
scales that no exit reads (which occur in tiny configurations only).

Needs torch (the `torch` extra: `pip install -e '.[torch]'`). Importing this module
does not import TensorFlow (see `_architecture`).
"""

import importlib.util
import sys
from pathlib import Path

import torch
from torch import nn


def _plan_module():
    """msdnet_tf.models.msdnet.plan (pure Python) without importing the msdnet_tf package.

    The package's __init__ imports Keras and TensorFlow (it registers the model
    families with Keras). A yardstick process must not carry a TensorFlow runtime:
    with it loaded this network's PyTorch training step ran slower on 2 cores
    (benchmarks/results/train_throughput.md, variant pytorch_tf_loaded). The plan's
    one import, msdnet_tf.models.family (pure Python too), is loaded from its file
    for the time the plan runs. When the package is already imported, its module
    is used.
    """
    if "msdnet_tf" in sys.modules:
        from msdnet_tf.models.msdnet import plan as module
        return module
    name = "_msdnet_tf_msdnet_plan"
    if name in sys.modules:
        return sys.modules[name]
    models = Path(__file__).resolve().parents[1] / "msdnet_tf" / "models"

    def load(module_name, path):
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses look their module up while it runs
        spec.loader.exec_module(module)
        return module

    family = load("_msdnet_tf_family", models / "family.py")
    # A module already in sys.modules under its full name is imported without its
    # parent packages: the plan's `from msdnet_tf.models.family import ...` reads it.
    sys.modules["msdnet_tf.models.family"] = family
    try:
        return load(name, models / "msdnet" / "plan.py")
    finally:
        del sys.modules["msdnet_tf.models.family"]


architecture = _plan_module()

BN_EPS = 1e-5
BN_MOMENTUM = 0.1  # PyTorch convention; Keras momentum 0.9


class ConvBasic(nn.Module):
    def __init__(self, n_in, n_out, kernel, stride):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(n_in, n_out, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(n_out, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True))

    def forward(self, x):
        return self.net(x)


class ConvBN(nn.Module):
    """Optional 1x1 bottleneck to min(n_in, bn_width * n_out), then a 3x3 conv."""

    def __init__(self, n_in, n_out, down, bottleneck, bn_width):
        super().__init__()
        mods, width = [], n_in
        if bottleneck:
            width = min(n_in, bn_width * n_out)
            mods += [nn.Conv2d(n_in, width, 1, bias=False),
                     nn.BatchNorm2d(width, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU(True)]
        mods += [nn.Conv2d(width, n_out, 3, 2 if down else 1, padding=1, bias=False),
                 nn.BatchNorm2d(n_out, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU(True)]
        self.net = nn.Sequential(*mods)

    def forward(self, x):
        return self.net(x)


class ScaleOutput(nn.Module):
    """One output scale of a dense layer: [same, new] or [same, down(finer), normal(same)]."""

    def __init__(self, n_finer, n_same, growth, down, bottleneck, bn_finer, bn_same):
        super().__init__()
        self.down = down
        if down:
            self.conv_down = ConvBN(n_finer, growth // 2, True, bottleneck, bn_finer)
            self.conv_normal = ConvBN(n_same, growth // 2, False, bottleneck, bn_same)
        else:
            self.conv_normal = ConvBN(n_same, growth, False, bottleneck, bn_same)

    def forward(self, finer, same):
        if self.down:
            return torch.cat([same, self.conv_down(finer), self.conv_normal(same)], 1)
        return torch.cat([same, self.conv_normal(same)], 1)


class FirstLayer(nn.Module):
    def __init__(self, stem, num_channels, growth_factors):
        super().__init__()
        self.layers = nn.ModuleList()
        width = num_channels * growth_factors[0]
        if stem == "imagenet":
            self.layers.append(nn.Sequential(
                nn.Conv2d(3, width, 7, 2, 3), nn.BatchNorm2d(width, eps=BN_EPS,
                                                             momentum=BN_MOMENTUM),
                nn.ReLU(True), nn.MaxPool2d(3, 2, 1)))
        else:
            self.layers.append(ConvBasic(3, width, 3, 1))
        for s in range(1, len(growth_factors)):
            self.layers.append(ConvBasic(num_channels * growth_factors[s - 1],
                                         num_channels * growth_factors[s], 3, 2))

    def forward(self, x):
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class DenseLayer(nn.Module):
    """Maps the surviving scales (a list, finest first) to the layer's output scales."""

    def __init__(self, layer, num_scales, growth_rate, gf, bnf, bottleneck):
        super().__init__()
        self.offset = num_scales - layer.out_scales
        # position, in the input list, of the input at the finest output scale
        self.in_first = self.offset - (num_scales - layer.in_scales)
        c = layer.width_in
        self.layers = nn.ModuleList()
        for s in range(self.offset, num_scales):
            down = s > self.offset or layer.discard
            self.layers.append(ScaleOutput(c * gf[s - 1] if down else 0, c * gf[s],
                                           growth_rate * gf[s], down, bottleneck,
                                           bnf[s - 1] if down else 0, bnf[s]))

    def forward(self, feats):
        # feats holds the in_scales surviving scales, finest first.
        out = []
        for j, module in enumerate(self.layers):
            i = self.in_first + j
            out.append(module(feats[i - 1] if module.down else None, feats[i]))
        return out


class Transition(nn.Module):
    """1x1 ConvBasic per surviving scale, from c + growth_rate to floor(reduction * c)."""

    def __init__(self, layer, num_scales, gf, growth_rate):
        super().__init__()
        offset = num_scales - layer.out_scales
        self.m = nn.ModuleList(ConvBasic((layer.width_in + growth_rate) * gf[s],
                                         layer.transition_to * gf[s], 1, 1)
                               for s in range(offset, num_scales))

    def forward(self, feats):
        return [m(x) for m, x in zip(self.m, feats)]


class Classifier(nn.Module):
    def __init__(self, stem, width, num_classes):
        super().__init__()
        inner = 128 if stem == "cifar" else width
        self.m = nn.Sequential(ConvBasic(width, inner, 3, 2), ConvBasic(inner, inner, 3, 2),
                               nn.AvgPool2d(2))
        self.linear = nn.Linear(inner, num_classes)

    def forward(self, x):
        return self.linear(torch.flatten(self.m(x), 1))


class TorchMSDNet(nn.Module):
    """forward(x NCHW) -> list of per-exit logits."""

    def __init__(self, stem="cifar", num_blocks=10, step_mode="even", step=2, base=4,
                 num_channels=16, growth_rate=6, growth_factors=(1, 2, 4),
                 bottleneck_factors=(1, 2, 4), bottleneck=True, reduction=0.5, prune="max",
                 num_classes=100, image_size=32, init="he_normal"):
        """init: "he_normal" (the paper's, `reset_parameters`) or "torch_default" (keep what
        the modules drew when constructed, in the reference port's order: what it trains
        from)."""
        super().__init__()
        kwargs = dict(stem=stem, num_blocks=num_blocks, step_mode=step_mode, step=step,
                      base=base, num_channels=num_channels, growth_rate=growth_rate,
                      growth_factors=list(growth_factors),
                      bottleneck_factors=list(bottleneck_factors), bottleneck=bottleneck,
                      reduction=reduction, prune=prune, num_classes=num_classes,
                      image_size=image_size)
        architecture.validate_model_kwargs(**kwargs)
        plan = architecture.plan(**kwargs)
        gf, bnf = list(growth_factors), list(bottleneck_factors)
        self.blocks = nn.ModuleList()
        self.classifier = nn.ModuleList()
        for block in plan.blocks:
            mods = [FirstLayer(stem, num_channels, gf)] if block.index == 0 else []
            for layer in block.layers:
                mods.append(DenseLayer(layer, plan.num_scales, growth_rate, gf, bnf, bottleneck))
                if layer.transition_to:
                    mods.append(Transition(layer, plan.num_scales, gf, growth_rate))
            self.blocks.append(nn.Sequential(*mods))
            self.classifier.append(Classifier(stem, block.width_out * gf[-1], num_classes))
        if init == "he_normal":
            self.reset_parameters()
        elif init != "torch_default":
            raise ValueError(f"init must be he_normal or torch_default. Received: {init!r}")

    def reset_parameters(self):
        """The paper's initialisation (spec): He-normal fan-out convs, BN 1/0, linear bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        feats, logits = x, []
        for block, classifier in zip(self.blocks, self.classifier):
            feats = block(feats)
            logits.append(classifier(feats[-1]))
        return logits


"""MSDNet: Multi-Scale Dense Networks (Huang et al., ICLR 2018) in Keras 3."""

import keras

from msdnet_tf.models import base, torch_init
from msdnet_tf.models.msdnet import blocks, config as config_lib, plan as plan_lib, weights


class MSDNetGraph(base.ClassifierHeads):
    """The plan's blocks and classifiers over one layer factory (see `base`).

    Between exits it carries the surviving scales as {"scale_s": tensor},
    s = 0 the finest; classifiers read the coarsest scale.
    """

    def __init__(self, arch, sync_bn, make):
        self.arch = arch
        self.sync_bn = sync_bn
        self.make = make
        self.plan = plan_lib.plan(**arch)
        self.num_exits = arch["num_blocks"]
        self.pool_side = plan_lib.classifier_pool_side(self.plan.resolutions[-1])

    def image_input(self, batch_size=None):
        size = self.arch["image_size"]
        return keras.Input((size, size, 3), batch_size=batch_size, name="image")

    def trunk(self, b, carried):
        a, num_scales = self.arch, self.plan.num_scales
        if b == 0:
            feats = blocks.apply_first_layer(self.make, carried["image"], a["stem"],
                                             a["num_channels"], a["growth_factors"], self.sync_bn)
        else:
            feats = [carried.get(f"scale_{s}") for s in range(num_scales)]
        for layer in self.plan.blocks[b].layers:
            feats = blocks.apply_dense_layer(
                self.make, feats, layer, a["growth_rate"], a["growth_factors"],
                a["bottleneck_factors"], a["bottleneck"], self.sync_bn)
            if layer.transition_to:
                feats = blocks.apply_transition(self.make, feats, layer, a["growth_factors"],
                                                self.sync_bn)
        return {f"scale_{s}": t for s, t in enumerate(feats) if t is not None}

    def head_key(self, b):
        return f"scale_{self.plan.num_scales - 1}"

    def depth(self, b):
        return sum(len(block.layers) for block in self.plan.blocks[:b + 1])


@keras.saving.register_keras_serializable(package="msdnet_tf")
class MSDNet(base.MultiExitModel):
    """Multi-Scale Dense Network with one classifier (exit) per block.

    The network keeps S = len(growth_factors) scales; scale s carries
    c * growth_factors[s] channels and every dense layer adds
    growth_rate * growth_factors[s] of them. Block b ends in exit b, a
    classifier on the coarsest scale. Scales are pruned from the finest as
    depth grows (`prune`), followed by 1x1 transitions compressing c to
    floor(reduction * c).

    Args (the paper's / reference's names in brackets):
        stem: "cifar" (3x3 conv) or "imagenet" (7x7/2 conv + 3x3/2 max-pool).
        num_blocks: blocks, and so exits [nBlocks].
        step_mode: "even" or "lin_grow" [stepmode].
        step, base: layers per block: base for the first, then step (even) or
            step * i + 1 (lin_grow).
        num_channels: base width c of the first layer [nChannels].
        growth_rate: growth per layer at scale 0 [growthRate].
        growth_factors: width multiplier per scale [grFactor].
        bottleneck_factors: bottleneck multiplier per scale [bnFactor].
        bottleneck: use 1x1 bottlenecks.
        reduction: transition compression in (0, 1].
        prune: "max" or "min" scale pruning.
        num_classes, image_size: classes and input side.
        sync_bn: synchronise BatchNorm statistics across replicas.
        init: initial weights, "torch_default" (default: PyTorch's defaults, what the
            reference port trains from, uniform +-1/sqrt(fan_in) kernels and biases) or
            "he_normal" (the authors' Lua code: He-normal fan-out convs, zero biases).
        init_seed: with "torch_default", the weights are the reference port's after
            torch.manual_seed(init_seed), bit for bit (`torch_init`); None draws the
            seed from NumPy's global generator (keras.utils.set_random_seed fixes it).

    Outputs a dict {"exit_0": logits, ..., "exit_{K-1}": logits}, float32.
    BN uses epsilon 1e-5 and momentum 0.9 (the reference's 0.1). Between cascade
    stages it carries the surviving scales, {"scale_s": tensor}.
    """

    family = "msdnet"
    graph_class = MSDNetGraph
    inits = config_lib.INITS  # torch_default (the reference port), he_normal (the Lua code)

    def __init__(self, stem="cifar", num_blocks=10, step_mode="even", step=2, base=4,
                 num_channels=16, growth_rate=6, growth_factors=(1, 2, 4),
                 bottleneck_factors=(1, 2, 4), bottleneck=True, reduction=0.5, prune="max",
                 num_classes=100, image_size=32, sync_bn=False, **kwargs):
        arch = dict(
            stem=stem, num_blocks=num_blocks, step_mode=step_mode, step=step, base=base,
            num_channels=num_channels, growth_rate=growth_rate,
            growth_factors=[int(g) for g in growth_factors],
            bottleneck_factors=[int(b) for b in bottleneck_factors], bottleneck=bottleneck,
            reduction=reduction, prune=prune, num_classes=num_classes, image_size=image_size,
        )
        plan_lib.validate_model_kwargs(**arch, head_pool=kwargs.get("head_pool", "fixed"))
        super().__init__(arch, sync_bn, **kwargs)

    def _initialise(self, init, seed):
        # The layers' initialisers are the Lua code's (He-normal fan-out convs, zero
        # biases); the reference port trains from PyTorch's defaults instead, drawn in
        # the order its constructor builds its modules (block b, then classifier b: the
        # order of `reference_names`) from torch.manual_seed(seed)'s stream. Layers the
        # reference does not have (IMTA's ISC heads) draw next, in the model's order.
        if init != "torch_default":
            return
        plan_layers = [self.plan_layer(name) for _, name, kind in self.reference_names()
                       if kind != "bn"]
        rng = torch_init.initialise(plan_layers, seed)
        drawn = {id(layer) for layer in plan_layers}
        for layer in self.layers:
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) \
                    and id(layer) not in drawn:
                torch_init.draw_layer(rng, layer)

    @property
    def plan(self):
        return plan_lib.plan(**self.arch)

    def reference_names(self):
        return weights.reference_names(self.arch, self.plan)


MODEL = MSDNet

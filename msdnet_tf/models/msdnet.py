"""MSDNet: Multi-Scale Dense Networks (Huang et al., ICLR 2018) in Keras 3."""

import keras

from msdnet_tf import architecture
from msdnet_tf.models import blocks

ARCH_KEYS = (
    "stem", "num_blocks", "step_mode", "step", "base", "num_channels", "growth_rate",
    "growth_factors", "bottleneck_factors", "bottleneck", "reduction", "prune", "num_classes",
    "image_size",
)


class _Factory:
    """`make` for the blocks: creates layers, or fetches them from a built model.

    Layers whose output reaches no exit are dropped by the functional model;
    fetching one gives a throwaway layer, which the sub-graph drops too.
    """

    def __init__(self, model=None):
        self.model = model
        self.created = []

    def __call__(self, cls, name, **kwargs):
        if self.model is not None and name not in self.model.unreachable_layers:
            return self.model.get_layer(name)
        self.created.append(name)
        return cls(name=name, **kwargs)


class _Graph:
    """Applies the plan's blocks and classifiers with one factory."""

    def __init__(self, arch, sync_bn, make):
        self.arch = arch
        self.sync_bn = sync_bn
        self.make = make
        self.plan = architecture.plan(**arch)
        self.pool_side = architecture.classifier_pool_side(self.plan.resolutions[-1])

    def block(self, b, feats):
        a = self.arch
        if b == 0:
            feats = blocks.apply_first_layer(self.make, feats, a["stem"], a["num_channels"],
                                             a["growth_factors"], self.sync_bn)
        for layer in self.plan.blocks[b].layers:
            feats = blocks.apply_dense_layer(
                self.make, feats, layer, a["growth_rate"], a["growth_factors"],
                a["bottleneck_factors"], a["bottleneck"], self.sync_bn)
            if layer.transition_to:
                feats = blocks.apply_transition(self.make, feats, layer, a["growth_factors"],
                                                self.sync_bn)
        return feats

    def classifier(self, b, feats):
        return blocks.apply_classifier(self.make, feats[-1], b, self.arch["stem"],
                                       self.arch["num_classes"], self.pool_side, self.sync_bn)

    def image_input(self, batch_size=None):
        size = self.arch["image_size"]
        return keras.Input((size, size, 3), batch_size=batch_size, name="image")


@keras.saving.register_keras_serializable(package="msdnet_tf")
class MSDNet(keras.Model):
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
        init: initial weights of convolutions and classifiers. "torch_default"
            (default): PyTorch's defaults, what the reference port trains from
            (uniform, bound 1 / sqrt(fan_in), biases too); "he_normal": the
            authors' Lua code, He-normal fan-out convs (std sqrt(2 / (k * k *
            C_out))), uniform classifier weights, zero biases.

    Outputs a dict {"exit_0": logits, ..., "exit_{K-1}": logits}, float32.
    BN uses epsilon 1e-5 and momentum 0.9 (the reference's 0.1), gamma 1, beta 0.
    """

    def __init__(self, stem="cifar", num_blocks=10, step_mode="even", step=2, base=4,
                 num_channels=16, growth_rate=6, growth_factors=(1, 2, 4),
                 bottleneck_factors=(1, 2, 4), bottleneck=True, reduction=0.5, prune="max",
                 num_classes=100, image_size=32, sync_bn=False, init="torch_default", **kwargs):
        arch = dict(
            stem=stem, num_blocks=num_blocks, step_mode=step_mode, step=step, base=base,
            num_channels=num_channels, growth_rate=growth_rate,
            growth_factors=[int(g) for g in growth_factors],
            bottleneck_factors=[int(b) for b in bottleneck_factors], bottleneck=bottleneck,
            reduction=reduction, prune=prune, num_classes=num_classes, image_size=image_size,
        )
        architecture.validate_model_kwargs(**arch)
        if init not in blocks.INITS:
            raise ValueError(f"init must be one of {', '.join(blocks.INITS)}. "
                             f"Received: init={init!r}")
        factory = _Factory()
        graph = _Graph(arch, sync_bn, factory)
        image = graph.image_input()
        feats, outputs = image, {}
        for b in range(num_blocks):
            feats = graph.block(b, feats)
            outputs[f"exit_{b}"] = graph.classifier(b, feats)
        kwargs.setdefault("name", "msdnet")
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.arch = arch
        self.sync_bn = sync_bn
        self.init = init
        if init == "torch_default":
            blocks.torch_default_init(self.layers)
        # Layers of the plan that feed no exit. The reference builds and
        # counts them (finer scales of the last dense layer when it keeps
        # more than one scale); here they are not computed at all.
        kept = {layer.name for layer in self.layers}
        self.unreachable_layers = tuple(n for n in factory.created if n not in kept)

    @property
    def num_exits(self):
        return self.arch["num_blocks"]

    @property
    def plan(self):
        return architecture.plan(**self.arch)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "sync_bn": self.sync_bn,
                "init": self.init, **self.arch}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _graph(self):
        return _Graph(self.arch, self.sync_bn, _Factory(self))

    def _check_exit(self, k):
        if not (isinstance(k, int) and 0 <= k < self.num_exits):
            raise ValueError(f"exit must be an integer in [0, {self.num_exits - 1}]. "
                             f"Received: k={k!r}")

    def exit_model(self, k, batch_size=None):
        """image -> logits of exit k, sharing this model's layers (no weight copies)."""
        self._check_exit(k)
        graph = self._graph()
        image = graph.image_input(batch_size)
        feats = image
        for b in range(k + 1):
            feats = graph.block(b, feats)
        logits = graph.classifier(k, feats)
        return keras.Model(image, logits, name=f"exit_{k}")

    def stage_models(self, batch_size=None):
        """One model per exit for cascaded early exit, sharing this model's layers.

        Stage 0 maps the image, stage k > 0 the feature maps left by stage
        k - 1 ({"scale_s": tensor} for the surviving scales), to
        {"logits": ..., "scale_s": ...}; the last stage returns only logits.
        Running the stages in order reproduces `self(image)` exactly.
        """
        graph = self._graph()
        stages, prev = [], None
        for b in range(self.num_exits):
            if prev is None:
                inputs = graph.image_input(batch_size)
                feats = inputs
            else:
                inputs = {
                    key: keras.Input(t.shape[1:], batch_size=batch_size, name=key)
                    for key, t in prev.items()
                }
                feats = [inputs.get(f"scale_{s}") for s in range(graph.plan.num_scales)]
            feats = graph.block(b, feats)
            outputs = {"logits": graph.classifier(b, feats)}
            prev = None
            if b < self.num_exits - 1:
                prev = {f"scale_{s}": t for s, t in enumerate(feats) if t is not None}
                outputs.update(prev)
            stages.append(keras.Model(inputs, outputs, name=f"stage_{b}"))
        return stages


def run_stages(stages, image):
    """Runs stage models in sequence; returns {"exit_k": logits}. For tests and tools."""
    outputs, feats = {}, image
    for k, stage in enumerate(stages):
        out = stage(feats, training=False)
        outputs[f"exit_{k}"] = out.pop("logits")
        feats = out
    return outputs

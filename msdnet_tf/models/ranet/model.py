"""RANet: Resolution Adaptive Networks (Yang et al., CVPR 2020) in Keras 3."""

import keras

from msdnet_tf.models import base
from msdnet_tf.models.ranet import blocks, config as config_lib, plan as plan_lib, weights


def stem_name(i):
    return f"s{i}_stem"


class RANetGraph(base.ClassifierHeads):
    """The plan's stem, blocks and classifiers over one layer factory (see `base`).

    Trunk k runs the blocks between exit k - 1 and exit k (trunk 0 also the
    whole stem, whose chain runs from the finest map to the coarsest). Maps are
    named by where they come from, and a trunk carries on exactly the ones a
    later trunk or classifier reads:
        s{i}_stem       input map of sub-network i (stem maps wait for their
                        sub-network)
        s{i}_b{b}_l{l}  map after layer l (1..L) of block b of sub-network i
        s{i}_b{b}_out   output of that block when it differs from the map after
                        its last layer (fusion block, or transition)
    so every feats list of the previous sub-network reaches its fusion blocks.
    """

    def __init__(self, arch, sync_bn, make):
        self.arch, self.sync_bn, self.make = arch, sync_bn, make
        self.plan = plan_lib.plan(**arch)
        self.num_exits = len(self.plan.exits)
        self.pool_side = plan_lib.classifier_pool_side(self.plan.coarsest_side)
        self.schedule = self._schedule()
        self.carry = self._carry()

    # ------------------------------------------------------------- naming
    def feat_name(self, i, b, l):
        """feats[l] of block b of sub-network i (feats[0] is the block input)."""
        if l > 0:
            return f"s{i}_b{b}_l{l}"
        return self.out_name(i, b - 1) if b > 0 else stem_name(i)

    def out_name(self, i, b):
        block = self.plan.block(i, b)
        if block.fusion or block.transition:
            return f"s{i}_b{b}_out"
        return self.feat_name(i, b, block.layers)

    def _reads(self, i, b):
        block = self.plan.block(i, b)
        names = [self.feat_name(i, b, 0)]
        if block.fusion:
            names += [self.feat_name(i - 1, b, l) for l in range(block.layers + 1)]
        return names

    def _writes(self, i, b):
        block = self.plan.block(i, b)
        names = [self.feat_name(i, b, l) for l in range(1, block.layers + 1)]
        out = self.out_name(i, b)
        return names + ([out] if out not in names else [])

    # ----------------------------------------------------------- schedule
    def _schedule(self):
        """trunk k -> [(i, b)] of the blocks it runs."""
        schedule, done = [], None
        for i, b in self.plan.exits:
            start = done[1] + 1 if done is not None and done[0] == i else 0
            schedule.append([(i, j) for j in range(start, b + 1)])
            done = (i, b)
        return schedule

    def _carry(self):
        """trunk k -> names it hands on: read after it (or by classifier k), made up to it."""
        made, carry = [stem_name(i) for i in range(self.plan.num_subnets)], []
        for k in range(self.num_exits):
            for i, b in self.schedule[k]:
                made += self._writes(i, b)
            later = {self.head_key(k)}
            for j in range(k + 1, self.num_exits):
                later.update(n for i, b in self.schedule[j] for n in self._reads(i, b))
            carry.append([n for n in made if n in later])
        return carry

    # -------------------------------------------------------- graph contract
    def image_input(self, batch_size=None):
        size = self.arch["image_size"]
        return keras.Input((size, size, 3), batch_size=batch_size, name="image")

    def trunk(self, k, carried):
        tensors = dict(carried)
        if k == 0:
            maps = blocks.apply_stem(self.make, carried["image"], self.plan, self.arch["stem"],
                                     self.sync_bn)
            tensors.update({stem_name(i): t for i, t in enumerate(maps)})
        for i, b in self.schedule[k]:
            block = self.plan.block(i, b)
            x = tensors[self.feat_name(i, b, 0)]
            if block.fusion:
                low_block = self.plan.block(i - 1, b)
                low = [tensors[self.feat_name(i - 1, b, l)] for l in range(block.layers + 1)]
                x, feats = blocks.apply_fusion_block(self.make, x, low, low_block.feat_widths,
                                                     block, self.sync_bn)
            else:
                x, feats = blocks.apply_plain_block(self.make, x, block, self.sync_bn)
            tensors.update({self.feat_name(i, b, l): t for l, t in enumerate(feats) if l})
            tensors[self.out_name(i, b)] = x
        return {name: tensors[name] for name in self.carry[k]}

    def head_key(self, k):
        """The output of the plain block exit k follows, which the classifier reads and the
        later blocks read (IMTA rescales both there, docs/imta.md)."""
        return self.out_name(*self.plan.exits[k])

    def depth(self, k):
        """Dense layers of the exit's sub-network up to its block."""
        i, b = self.plan.exits[k]
        return sum(block.layers for block in self.plan.subnets[i][:b + 1])


@keras.saving.register_keras_serializable(package="msdnet_tf")
class RANet(base.MultiExitModel):
    """Resolution Adaptive Network: S sub-networks, coarsest input first, an exit after
    every plain block.

    Sub-network i (i = 0..S-1, from the coarsest) starts on the stem's map of
    resolution level scale_list[i] with num_channels * growth_factors[i]
    channels and has N_i = num_blocks + i * block_step blocks. Its first
    N_{i-1} blocks are fusion blocks: every layer mixes in a bilinearly
    (align_corners) up-sampled branch of the same block of sub-network i - 1
    and the block halves its map where earlier sub-networks ended; the rest
    are plain dense blocks, each followed by an exit (a classifier on the
    coarsest map). K = num_blocks + (S - 1) * block_step exits in all.

    Args (the reference's names in brackets):
        stem: "cifar" (3x3 conv) or "imagenet" (7x7/2 conv + 3x3/2 max-pool) [data].
        num_classes, image_size: classes and input side.
        num_blocks: blocks (and exits) of sub-network 0 [nBlocks].
        block_step: extra blocks (exits) per later sub-network [block-step].
        step, step_mode: layers per block, `step` ("even") or b * step for the
            b-th block ("lg") [step, stepmode].
        num_channels: base width of the stem [nChannels].
        growth_rate: growth per layer, times growth_factors[i] [growthRate].
        growth_factors, bottleneck_factors: per sub-network [grFactor, bnFactor].
        scale_list: resolution level per sub-network, 1 = coarsest [scale-list].
        compress_factor: share of a fusion layer from the coarser sub-network.
        reduction: transition compression [reduction].
        bottleneck, bn_after: always true in the reference.
        sync_bn: synchronise BatchNorm statistics across replicas.

    Outputs {"exit_0": logits, ..., "exit_{K-1}": logits}, float32. Init as the
    reference: He-normal (fan-out) convs, BN gamma 1 beta 0 and zero Linear
    bias in the sub-networks and classifiers; PyTorch's default uniform for the
    stem convs (and the imagenet 7x7's bias) and the Linear weights. BN epsilon
    1e-5, momentum 0.9 (the reference's 0.1).
    """

    family = "ranet"
    graph_class = RANetGraph
    inits = config_lib.INITS  # the layers' initialisers reproduce the reference's

    def __init__(self, stem="cifar", num_classes=100, image_size=32, num_blocks=2, block_step=2,
                 step=4, step_mode="even", num_channels=16, growth_rate=6,
                 growth_factors=(4, 2, 1, 1), bottleneck_factors=(4, 2, 1, 1),
                 scale_list=(1, 2, 3, 3), compress_factor=0.25, reduction=0.5, bottleneck=True,
                 bn_after=True, sync_bn=False, **kwargs):
        arch = dict(
            stem=stem, num_classes=num_classes, image_size=image_size, num_blocks=num_blocks,
            block_step=block_step, step=step, step_mode=step_mode, num_channels=num_channels,
            growth_rate=growth_rate, growth_factors=_ints(growth_factors),
            bottleneck_factors=_ints(bottleneck_factors), scale_list=_ints(scale_list),
            compress_factor=compress_factor, reduction=reduction, bottleneck=bottleneck,
            bn_after=bn_after,
        )
        plan_lib.validate_model_kwargs(**arch, head_pool=kwargs.get("head_pool", "fixed"))
        super().__init__(arch, sync_bn, **kwargs)

    @property
    def plan(self):
        return plan_lib.plan(**self.arch)

    def reference_names(self):
        return weights.reference_names(self.arch, self.plan)


def _ints(values):
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]


MODEL = RANet

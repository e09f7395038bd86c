"""RANet counts: `msdnet_tf.summary --json` equals the reference's op counter on every
published configuration, and an independent count from the plan on any other one."""

import json

import pytest

from msdnet_tf import flops, summary
from msdnet_tf.models import RANet
from msdnet_tf.models.ranet import plan as plan_lib
from tests.conftest import RANET_TINY, REPO, reference_json
from tests.models.test_ranet import VARIANTS

KEYS = ("trainable_params", "exit_cumulative_flops", "exit_cumulative_params")
# counts.json entry -> (config file, overrides)
PUBLISHED = {
    "cifar10_train_script": ("cifar10_ranet.yaml", []),
    "cifar100_train_script": ("cifar100_ranet.yaml", []),
    "cifar10_readme_lg": ("cifar10_ranet.yaml", [
        "model.step=2", "model.step_mode=lg", "model.growth_factors=[4,2,1]",
        "model.bottleneck_factors=[4,2,1]", "model.scale_list=[1,2,3]"]),
    "cifar100_readme_lg": ("cifar100_ranet.yaml", [
        "model.step=2", "model.step_mode=lg", "model.growth_factors=[4,2,1]",
        "model.bottleneck_factors=[4,2,1]", "model.scale_list=[1,2,3]"]),
    "imagenet_c64_figure": ("imagenet_ranet.yaml", []),
    "imagenet_readme_c32": ("imagenet_ranet.yaml", ["model.num_channels=32"]),
    "imagenet_train_script_c16": ("imagenet_ranet.yaml", [
        "model.num_channels=16", "model.growth_factors=[4,2,1,1]",
        "model.bottleneck_factors=[4,2,1,1]"]),
}
# Each ImageNet network takes ~10 s to build twice; the figure's stays in the default run.
SLOW = ("imagenet_readme_c32", "imagenet_train_script_c16")


def _summary_json(capsys, config, overrides):
    argv = ["--config", str(REPO / "configs" / config), "--json"]
    for o in overrides:
        argv += ["--override", o]
    summary.main(argv)
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in PUBLISHED])
def test_summary_equals_the_reference_op_counter(name, capsys):
    entry = reference_json("ranet/counts.json")[name]
    config, overrides = PUBLISHED[name]
    got = _summary_json(capsys, config, overrides)
    assert {k: got[k] for k in KEYS} == {k: entry[k] for k in KEYS}


@pytest.mark.parametrize("name", ["cifar_tiny_1233", "imagenet_tiny_1234"])
def test_golden_networks_count_like_the_reference(name):
    entry = reference_json("ranet/golden/golden.json")[name]
    counts = flops.count_config(family="ranet", **entry["model"]).as_dict()
    assert {k: counts[k] for k in KEYS} == {k: entry[k] for k in KEYS}


# ---------------------------------------------------------------- independent count
def _conv(c_in, c_out, k, side_out):
    """(FLOPs, params) of conv + BN + ReLU: the reference's rules, BN free but 2C params."""
    return c_in * c_out * k * k * side_out ** 2 + c_out * side_out ** 2, c_in * c_out * k * k + \
        2 * c_out


def _conv_bn(c_in, c_out, bf, side_in, side_out):
    inner = min(c_in, bf * c_out)
    a, b = _conv(c_in, inner, 1, side_in), _conv(inner, c_out, 3, side_out)
    return a[0] + b[0], a[1] + b[1]


def _add(total, part):
    return total[0] + part[0], total[1] + part[1]


def _stem(plan, arch):
    total, last = (0, 0), plan.num_subnets - 1
    for i in range(last, -1, -1):
        w, side = plan.stem_widths[i], plan.stem_sides[i]
        if i == last and arch["stem"] == "imagenet":
            conv = plan_lib.conv_out(arch["image_size"], 7, 2, 3)
            total = _add(total, (3 * w * 49 * conv ** 2 + w * conv ** 2 + w * side ** 2 * 9,
                                 3 * w * 49 + w + 2 * w))
        else:
            c_in = 3 if i == last else plan.stem_widths[i + 1]
            total = _add(total, _conv(c_in, w, 3, side))
    return total


def _block(block, low):
    total = (0, 0)
    for l in range(block.layers):
        down = block.down and l == block.layers - 1
        side_out = block.side_out if down else block.side_in
        if block.fusion:
            total = _add(total, _conv_bn(block.feat_widths[l], block.n_new,
                                         block.bottleneck_factor, block.side_in, side_out))
            total = _add(total, _conv_bn(low.feat_widths[l], block.n_up,
                                         block.up_bottleneck_factor, low.side_in, low.side_in))
        else:
            total = _add(total, _conv_bn(block.feat_widths[l], block.growth,
                                         block.bottleneck_factor, block.side_in, side_out))
    if block.fusion:
        total = _add(total, _conv(low.feat_widths[-1], block.last_width, 1, low.side_out))
    if block.transition:
        total = _add(total, _conv(block.width_before_transition, block.width_out, 1,
                                  block.side_out))
    return total


def _classifier(c, arch, side):
    width = 128 if arch["stem"] == "cifar" else c
    s1 = plan_lib.conv_out(side, 3, 2, 1)
    s2 = plan_lib.conv_out(s1, 3, 2, 1)
    total = _add(_conv(c, width, 3, s1), _conv(width, width, 3, s2))
    pool = width * (s2 // 2) ** 2 * 4
    dense = width * (s2 // 2) ** 2 * arch["num_classes"] + arch["num_classes"]
    return total[0] + pool + dense, total[1] + dense


def plan_counts(arch):
    """Cumulative (FLOPs, params) per exit, from the plan and the spec's counting rules."""
    plan = plan_lib.plan(**arch)
    total, out = _stem(plan, arch), []
    done = set()
    for i, b in plan.exits:
        for j in range(b + 1):
            if (i, j) not in done:
                block = plan.block(i, j)
                total = _add(total, _block(block, plan.block(i - 1, j) if block.fusion else None))
                done.add((i, j))
        total = _add(total, _classifier(plan.block(i, b).width_out, arch, plan.coarsest_side))
        out.append(total)
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_graph_counts_equal_an_independent_count_from_the_plan(variant):
    arch = {**RANET_TINY, **VARIANTS[variant]}
    counts = flops.count(RANet(**arch))
    expected = plan_counts(arch)
    assert counts.exit_cumulative_flops == [f for f, _ in expected]
    assert counts.exit_cumulative_params == [p for _, p in expected]


def test_independent_count_reproduces_the_reference():
    for entry in reference_json("ranet/counts.json").values():
        expected = plan_counts(entry["model"])
        assert [f for f, _ in expected] == entry["exit_cumulative_flops"]
        assert [p for _, p in expected] == entry["exit_cumulative_params"]


def test_published_curves_sit_at_the_reference_counts():
    from msdnet_tf.evaluation.published import published_curve, published_curves

    counts = reference_json("ranet/counts.json")
    for dataset, entry in (("cifar10", "cifar10_train_script"),
                           ("cifar100", "cifar100_train_script"),
                           ("imagenet2012", "imagenet_c64_figure")):
        curve = published_curve(dataset, "anytime", family="ranet")
        assert list(curve.flops) == counts[entry]["exit_cumulative_flops"]
        assert len(curve.top1) == counts[entry]["num_exits"]
    # A CIFAR-100 plot overlays both families' budgeted curves.
    labels = [c.label for c in published_curves("cifar100", "budgeted")]
    assert any("RANet" in label for label in labels) and any("MSDNet" in label for label in labels)
    assert published_curve("cifar100", "budgeted", family="ranet").top1[1] == 71.1

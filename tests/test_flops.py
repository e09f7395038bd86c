import numpy as np
import pytest
import keras
import tensorflow as tf

from msdnet_tf import flops
from msdnet_tf.models import MSDNet
from tests.conftest import TINY, reference_json


@pytest.mark.parametrize("name", ["cifar100_anytime", "imagenet_step4"])
def test_counts_equal_the_reference(name):
    entry = reference_json("counts.json")[name]
    counts = flops.count_config(**entry["model"]).as_dict()
    for key in ("trainable_params", "exit_cumulative_flops", "exit_cumulative_params"):
        assert counts[key] == entry[key], key


@pytest.mark.parametrize("name", ["cifar_tiny_even", "imagenet_tiny_even"])
def test_counts_equal_the_golden_networks(name):
    entry = reference_json("golden/golden.json")[name]
    counts = flops.count_config(**entry["model"]).as_dict()
    for key in ("trainable_params", "exit_cumulative_flops", "exit_cumulative_params"):
        assert counts[key] == entry[key], key


def test_published_anytime_counts_without_shared_files():
    # Figures quoted in the spec (CIFAR-100 anytime: 4,955,644 parameters,
    # 15.14M ... 121.68M FLOPs).
    counts = flops.count_config(**{**TINY, "num_blocks": 10, "step": 2, "base": 4,
                                   "num_channels": 16, "growth_rate": 6, "num_classes": 100})
    assert counts.trainable_params == 4_955_644
    assert round(counts.exit_cumulative_flops[0] / 1e6, 2) == 15.14
    assert round(counts.exit_cumulative_flops[-1] / 1e6, 2) == 121.68


def _graph_ops(model):
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, model.arch["image_size"], model.arch["image_size"], 3], tf.float32))
    return fn.graph, fn.graph.get_operations()


def test_conv_total_matches_tensorflows_flop_statistics(tiny_model):
    # TensorFlow's registered "flops" statistic (the one its profiler sums)
    # counts 2 FLOPs per multiply-add.
    from tensorflow.python.framework import ops as tf_ops

    graph, ops = _graph_ops(tiny_model)
    tf_total = sum(tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
                   for op in ops if op.type == "Conv2D")
    ours = sum(flops.layer_flops(layer) for layer in tiny_model.layers
               if isinstance(layer, keras.layers.Conv2D))
    assert tf_total == 2 * ours


def test_last_exit_total_equals_an_independent_count_over_graph_ops(tiny_model):
    """Recount every op of the TensorFlow graph with the spec's rules."""
    graph, ops = _graph_ops(tiny_model)

    def size(t):
        return int(np.prod(t.shape.as_list()[1:]))

    total = 0
    for op in ops:
        if op.type == "Conv2D":
            k = op.inputs[1].shape.as_list()
            total += size(op.outputs[0]) * k[0] * k[1] * k[2]
        elif op.type == "Relu":
            total += size(op.inputs[0])
        elif op.type in ("MaxPool", "AvgPool"):
            ksize = op.get_attr("ksize")
            total += size(op.outputs[0]) * ksize[1] * ksize[2]
        elif op.type == "Mean":
            total += size(op.inputs[0])
        elif op.type == "MatMul":
            total += int(np.prod(op.inputs[1].shape.as_list()))
        elif op.type == "BiasAdd":
            total += size(op.outputs[0])
    assert total == flops.count(tiny_model).exit_cumulative_flops[-1]


def test_stages_partition_the_parameters(tiny_model):
    counts = flops.count(tiny_model)
    assert counts.trainable_params == sum(int(np.prod(w.shape))
                                          for w in tiny_model.trainable_weights)
    assert all(f > 0 for f in counts.stage_flops)
    assert counts.exit_cumulative_flops == sorted(counts.exit_cumulative_flops)


def test_truncated_models_skip_earlier_classifiers(tiny_model):
    counts = flops.count(tiny_model)
    truncated = flops.truncated_flops(tiny_model)
    assert all(t <= c for t, c in zip(truncated, counts.exit_cumulative_flops))
    # exit_1 alone does not run classifier 0.
    classifier0 = sum(flops.layer_flops(layer) for layer in tiny_model.layers
                      if layer.name.startswith(("exit0_", "exit_0")))
    assert truncated[1] <= counts.exit_cumulative_flops[1] - classifier0

"""The XNNPACK check finds ops left out, in any signature of a file."""

import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf.export.convert import Signature, convert
from msdnet_tf.export.delegation import check_xnnpack


@pytest.fixture(scope="module")
def two_signature_file():
    kernel = tf.Variable(np.random.default_rng(0).normal(size=(3, 3, 3, 4)).astype(np.float32))
    spec = {"x": tf.TensorSpec([1, 8, 8, 3], tf.float32, name="x")}

    def conv(feeds):
        return {"y": tf.nn.relu(tf.nn.conv2d(feeds["x"], kernel, 1, "SAME"))}

    def conv_cumsum(feeds):  # XNNPACK has no CUMSUM.
        return {"y": tf.math.cumsum(conv(feeds)["y"], axis=1) + 1.0}

    signatures = [Signature("a_conv", conv, spec), Signature("b_cumsum", conv_cumsum, spec)]
    return convert(signatures, [kernel], "float"), convert(signatures[:1], [kernel], "float")


def test_op_left_out_in_a_later_signature_is_found(two_signature_file):
    report = check_xnnpack(two_signature_file[0])
    assert not report.fully_delegated
    assert report.signatures["a_conv"]["not_delegated"] == {}
    assert report.signatures["b_cumsum"]["not_delegated"] == {"CUMSUM": 1}
    assert report.not_delegated == {"CUMSUM": 1}
    assert report.signatures["b_cumsum"]["ops"]["CONV_2D"] == 1


def test_supported_graph_is_fully_delegated(two_signature_file):
    report = check_xnnpack(two_signature_file[1])
    assert report.fully_delegated and report.not_delegated == {}
    assert report.as_dict()["signatures"]["serving_default"]["ops"] == {"CONV_2D": 1}

"""The PyTorch yardstick of the training-throughput benchmark is the same network."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks.torch_msdnet import TorchMSDNet  # noqa: E402
from msdnet_tf import weights  # noqa: E402
from msdnet_tf.models import MSDNet  # noqa: E402
from tests.conftest import TINY, reference_file, reference_json  # noqa: E402
from tests.test_weights import _randomised  # noqa: E402


def _logits(net, x_nhwc):
    net.eval()
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(np.transpose(x_nhwc, (0, 3, 1, 2)))))
    return [o.numpy() for o in out]


@pytest.mark.parametrize("name", ["cifar_tiny_even", "imagenet_tiny_even"])
def test_reference_state_dict_loads_strictly_and_gives_the_reference_logits(name):
    entry = reference_json("golden/golden.json")[name]
    data = np.load(reference_file(entry["file"]))
    net = TorchMSDNet(**entry["model"])
    state = {k[len("state/"):]: torch.from_numpy(data[k]) for k in data.files
             if k.startswith("state/")}
    net.load_state_dict(state, strict=True)
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == entry["trainable_params"]
    got = _logits(net, np.transpose(data["input_nchw"], (0, 2, 3, 1)))
    for k in range(entry["num_exits"]):
        np.testing.assert_allclose(got[k], data[f"logits_exit{k}"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("kwargs", [TINY, {}], ids=["tiny", "cifar100_anytime"])
def test_same_parameters_and_logits_as_the_keras_model(kwargs):
    keras_model = _randomised(MSDNet(**kwargs))
    net = TorchMSDNet(**kwargs)
    state = weights.export_state_dict(keras_model)
    missing, unexpected = net.load_state_dict({k: torch.from_numpy(np.asarray(v))
                                               for k, v in state.items()}, strict=False)
    # The Keras model drops layers no exit reads; the yardstick keeps them, like the reference.
    assert not unexpected
    unreachable_prefixes = tuple(p + "." for p, n, _ in keras_model.reference_names()
                                 if n in keras_model.unreachable_layers)
    assert all(k.startswith(unreachable_prefixes) for k in missing)
    reachable = sum(int(np.prod(w.shape)) for w in keras_model.trainable_weights)
    unreachable = sum(p.numel() for k, p in net.named_parameters() if k in missing)
    assert sum(p.numel() for p in net.parameters()) - unreachable == reachable
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    expected = keras_model(x, training=False)
    for k, got in enumerate(_logits(net, x)):
        np.testing.assert_allclose(got, np.asarray(expected[f"exit_{k}"]), rtol=1e-3, atol=1e-3)

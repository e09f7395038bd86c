"""Our training step equals PyTorch's on the reference network, step for step.

The PyTorch side is benchmarks/torch_msdnet.py, whose state_dict loads strictly into
the reference port's layout and gives the reference's logits (test_torch_msdnet.py),
trained as the reference's main.py trains: torch.optim.SGD(lr, momentum 0.9,
weight_decay 1e-4), per-exit CrossEntropyLoss (batch mean) summed over exits. Both
sides start from the same weights and see the same batches; after two steps at lr 0.1
and one at lr 0.01 the losses, weights and BatchNorm statistics must agree. With
train.momentum_style=keras they must not (the step after the lr decay differs).

The three-step runs take the 1x1 convolutions' gradients from TF's convolution ops
(`blocks.Conv2D.pointwise_matmul = False`), which round like PyTorch's (both are
oneDNN's): after the first step this small network amplifies rounding-level
differences (weights perturbed by 1e-6 of their size move some gradients by 2%), so
only identically rounded gradients stay within 1e-3 over three steps. The trainer's
MatMul gradients are checked against PyTorch for the first step here, and against TF's
convolution gradients in tests/models/test_conv.py.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.torch_msdnet import TorchMSDNet  # noqa: E402
from msdnet_tf import config as config_lib  # noqa: E402
from msdnet_tf import weights  # noqa: E402
from msdnet_tf.models import MSDNet, blocks  # noqa: E402
from msdnet_tf.training import optimizers, steps  # noqa: E402
from tests.conftest import TINY  # noqa: E402

SMALL = dict(TINY, num_blocks=2, base=1)
BATCH = 32
LRS = [0.1, 0.1, 0.01]


def _batches():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(BATCH, 32, 32, 3)).astype("float32"),
             rng.integers(0, 10, BATCH).astype("int32")) for _ in LRS]


def _torch_run(net, batches, lrs=LRS):
    optimizer = torch.optim.SGD(net.parameters(), lr=lrs[0], momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    net.train()
    losses = []
    for lr, (x, y) in zip(lrs, batches):
        for group in optimizer.param_groups:
            group["lr"] = lr
        out = net(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
        loss = sum(criterion(o, torch.from_numpy(y).long()) for o in out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def _keras_run(model, batches, style, lrs=LRS):
    cfg = config_lib.load_config(overrides=[f"train.momentum_style={style}"])
    optimizer = optimizers.from_config(cfg.train)  # what the trainer builds
    optimizer.build(model.trainable_variables)
    step = steps.make_train_step(model, optimizer, tf.distribute.get_strategy(),
                                 [1.0] * model.num_exits, 0.0, BATCH)
    losses = []
    for lr, batch in zip(lrs, batches):
        optimizer.learning_rate = lr
        ce, _ = step(iter(tf.data.Dataset.from_tensors(batch)))
        losses.append(float(ce.numpy().sum()) / BATCH)
    return losses, weights.export_state_dict(model)


@pytest.fixture(scope="module")
def runs():
    torch.manual_seed(0)
    net = TorchMSDNet(**SMALL)
    for m in net.modules():  # PyTorch's default init, as the reference trains from
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.reset_parameters()
    initial = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    batches = _batches()
    out = {"initial": initial, "torch": _torch_run(net, batches)}
    net.load_state_dict({k: torch.from_numpy(v) for k, v in initial.items()})
    out["torch_one_step"] = _torch_run(net, batches[:1], LRS[:1])
    model = MSDNet(**SMALL)
    weights.load_state_dict(model, initial)
    out["torch_one_step_style"] = _keras_run(model, batches[:1], "torch", LRS[:1])
    with pytest.MonkeyPatch.context() as patch:
        # TF's conv-op gradients round like PyTorch's (see the module docstring).
        patch.setattr(blocks.Conv2D, "pointwise_matmul", False)
        for style in optimizers.MOMENTUM_STYLES:
            model = MSDNet(**SMALL)
            weights.load_state_dict(model, initial)
            out[f"{style}_style"] = _keras_run(model, batches, style)
    return out


def _relative_errors(runs, style, kind, torch_run="torch"):
    """Per tensor: max |ours - torch| over max |torch update|."""
    torch_state, ours = runs[torch_run][1], runs[f"{style}_style"][1]
    errors = {}
    for key, value in ours.items():
        is_stat = key.endswith(("running_mean", "running_var"))
        if is_stat != (kind == "stats"):
            continue
        update = np.abs(torch_state[key] - runs["initial"][key]).max()
        errors[key] = np.abs(value - torch_state[key]).max() / update
    return errors


def test_losses_match_step_for_step(runs):
    """Same init, same batches: same summed cross-entropy at every step (the third is
    computed before the first update that the momentum styles disagree on)."""
    for style in optimizers.MOMENTUM_STYLES:
        np.testing.assert_allclose(runs[f"{style}_style"][0], runs["torch"][0], rtol=1e-4)


def test_weights_match_torch_with_torch_momentum(runs):
    errors = _relative_errors(runs, "torch", "weights")
    assert max(errors.values()) < 1e-3, max(errors.items(), key=lambda kv: kv[1])


def test_first_step_with_the_trainers_1x1_gradients_matches_torch(runs):
    np.testing.assert_allclose(runs["torch_one_step_style"][0], runs["torch_one_step"][0],
                               rtol=1e-4)
    errors = _relative_errors(runs, "torch_one_step", "weights", "torch_one_step")
    assert max(errors.values()) < 1e-4, max(errors.items(), key=lambda kv: kv[1])


def test_keras_momentum_does_not_match_after_the_lr_decay(runs):
    errors = _relative_errors(runs, "keras", "weights")
    assert np.median(list(errors.values())) > 0.05


def test_batchnorm_statistics_match_up_to_the_variance_estimator(runs):
    """PyTorch's running_var takes the unbiased batch variance (x n / (n - 1)), Keras's
    the biased one. With n = batch x height x width >= 32 x 2 x 2 = 128 that is < 1%
    of the 0.1 share each step adds; running means agree like the weights."""
    means = [e for k, e in _relative_errors(runs, "torch", "stats").items()
             if k.endswith("running_mean")]
    assert max(means) < 1e-3
    torch_state, ours = runs["torch"][1], runs["torch_style"][1]
    variances = {k: np.abs(v - torch_state[k]).max() / np.abs(torch_state[k]).max()
                 for k, v in ours.items() if k.endswith("running_var")}
    assert max(variances.values()) < 0.005, max(variances.items(), key=lambda kv: kv[1])

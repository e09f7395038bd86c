"""Mapping between the PyTorch reference port's state_dict and the Keras MSDNet.

The reference names its modules `blocks.{b}.{i}` (module i of block b; block
0 opens with the multi-scale first layer), `classifier.{k}`; see
`../shared/reference/README.md`. `reference_names(model)` walks the same
architecture plan the Keras builder walks and pairs every Keras layer that
holds weights with its reference prefix.
"""

import numpy as np

from msdnet_tf.cli import UserError


class WeightImportError(UserError):
    """A state_dict does not fit the model."""


def _conv_bn(torch_prefix, keras_name, bottleneck):
    """(torch prefix, keras layer, kind) of a ConvBN `net` sequence."""
    if bottleneck:
        return [(f"{torch_prefix}.net.0", f"{keras_name}_1x1_conv", "conv"),
                (f"{torch_prefix}.net.1", f"{keras_name}_1x1_bn", "bn"),
                (f"{torch_prefix}.net.3", f"{keras_name}_3x3_conv", "conv"),
                (f"{torch_prefix}.net.4", f"{keras_name}_3x3_bn", "bn")]
    return [(f"{torch_prefix}.net.0", f"{keras_name}_3x3_conv", "conv"),
            (f"{torch_prefix}.net.1", f"{keras_name}_3x3_bn", "bn")]


def _conv_basic(torch_prefix, keras_name):
    return [(f"{torch_prefix}.net.0", f"{keras_name}_conv", "conv"),
            (f"{torch_prefix}.net.1", f"{keras_name}_bn", "bn")]


def _first_layer(arch):
    pairs = []
    for s in range(len(arch["growth_factors"])):
        prefix = f"blocks.0.0.layers.{s}"
        if s == 0 and arch["stem"] == "imagenet":
            pairs += [(f"{prefix}.0", "stem_s0_conv", "conv"), (f"{prefix}.1", "stem_s0_bn", "bn")]
        else:
            pairs += _conv_basic(prefix, f"stem_s{s}")
    return pairs


def _dense_layer(prefix, layer, num_scales, bottleneck):
    pairs = []
    offset = num_scales - layer.out_scales
    for s in range(offset, num_scales):
        j, name = s - offset, f"l{layer.index}_s{s}"
        if s > offset or layer.discard:
            pairs += _conv_bn(f"{prefix}.layers.{j}.conv_down", f"{name}_down", bottleneck)
        pairs += _conv_bn(f"{prefix}.layers.{j}.conv_normal", f"{name}_normal", bottleneck)
    return pairs


def reference_names(model):
    """[(torch_prefix, keras_layer_name, kind)] for every weight-holding layer."""
    arch, plan = model.arch, model.plan
    pairs = _first_layer(arch)
    for block in plan.blocks:
        i = 1 if block.index == 0 else 0
        for layer in block.layers:
            pairs += _dense_layer(f"blocks.{block.index}.{i}", layer, plan.num_scales,
                                  arch["bottleneck"])
            i += 1
            if layer.transition_to:
                offset = plan.num_scales - layer.out_scales
                for s in range(offset, plan.num_scales):
                    pairs += _conv_basic(f"blocks.{block.index}.{i}.m.{s - offset}",
                                         f"l{layer.index}_t_s{s}")
                i += 1
        k = block.index
        pairs += _conv_basic(f"classifier.{k}.m.0", f"exit{k}_c1")
        pairs += _conv_basic(f"classifier.{k}.m.1", f"exit{k}_c2")
        pairs.append((f"classifier.{k}.linear", f"exit_{k}", "dense"))
    return pairs


_FIELDS = {
    # kind: [(torch suffix, keras weight index, torch -> keras transform)]
    "conv": [("weight", lambda a: np.transpose(a, (2, 3, 1, 0)))],
    "bn": [("weight", None), ("bias", None), ("running_mean", None), ("running_var", None)],
    "dense": [("weight", np.transpose), ("bias", None)],
}


def _fields(kind, layer):
    fields = list(_FIELDS[kind])
    if kind == "conv" and layer.use_bias:
        fields.append(("bias", None))
    return fields


def load_state_dict(model, state):
    """Sets `model`'s weights from a reference state_dict {name: np.ndarray}.

    Every tensor must be used exactly once (BN `num_batches_tracked` counters
    and the tensors of layers that feed no exit, `model.unreachable_layers`,
    are accepted and ignored); a missing, unexpected or mis-shaped one raises
    WeightImportError naming it.
    """
    used = set()
    for prefix, keras_name, kind in reference_names(model):
        if keras_name in model.unreachable_layers:
            # Computed by the reference but read by no exit: accepted, not used.
            used.update(k for k in state if k.startswith(prefix + "."))
            continue
        layer = model.get_layer(keras_name)
        values = []
        for suffix, transform in _fields(kind, layer):
            key = f"{prefix}.{suffix}"
            if key not in state:
                raise WeightImportError(f"the state_dict has no tensor {key} (for Keras layer "
                                        f"{keras_name}): is it for another configuration?")
            value = np.asarray(state[key], dtype=np.float32)
            values.append(transform(value) if transform else value)
            used.add(key)
        expected = [tuple(w.shape) for w in layer.weights]
        got = [v.shape for v in values]
        if expected != got:
            raise WeightImportError(f"tensor shapes under {prefix} {got} do not fit Keras layer "
                                    f"{keras_name} {expected}: the config does not match the "
                                    "weights")
        layer.set_weights(values)
    ignored = {k for k in state if k.endswith(".num_batches_tracked")}
    unexpected = sorted(set(state) - used - ignored)
    if unexpected:
        more = f" (and {len(unexpected) - 5} more)" if len(unexpected) > 5 else ""
        raise WeightImportError(f"the state_dict has tensors the model does not use: "
                                f"{', '.join(unexpected[:5])}{more}; is it for another "
                                "configuration?")
    return model


def export_state_dict(model):
    """The inverse mapping: Keras weights as a reference state_dict of numpy arrays."""
    inverse = {"conv": lambda a: np.transpose(a, (3, 2, 0, 1)), "dense": np.transpose}
    state = {}
    for prefix, keras_name, kind in reference_names(model):
        if keras_name in model.unreachable_layers:
            continue
        layer = model.get_layer(keras_name)
        for (suffix, transform), w in zip(_fields(kind, layer), layer.get_weights()):
            state[f"{prefix}.{suffix}"] = inverse[kind](w) if transform else w
    return state


def read_weights(path):
    """A state_dict from a .npz (`state/<name>` arrays) or a PyTorch .pth checkpoint."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise WeightImportError(f"weights file {path} does not exist")
    if path.suffix == ".npz":
        try:
            data = np.load(path)
        except Exception as e:  # noqa: BLE001 - any parse failure is the user's file
            raise WeightImportError(f"cannot read {path} as .npz: {e}") from None
        state = {k[len("state/"):]: data[k] for k in data.files if k.startswith("state/")}
        if not state:
            raise WeightImportError(f"{path} holds no state/<name> arrays")
        return state
    if path.suffix in (".pth", ".pt", ".tar"):
        return _read_torch(path)
    raise WeightImportError(f"weights file {path} must be .npz or .pth/.pt/.pth.tar")


def _read_torch(path):
    try:
        import torch
    except ImportError:
        raise WeightImportError(f"reading {path} needs PyTorch: pip install -e '.[torch]'"
                                ) from None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise WeightImportError(f"cannot read {path} as a PyTorch checkpoint: {e}") from None
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        ckpt = ckpt["state_dict"]
    if not isinstance(ckpt, dict):
        raise WeightImportError(f"{path} holds no state_dict")
    state = {}
    for key, value in ckpt.items():
        if key.startswith("module."):
            key = key[len("module."):]
        state[key] = value.detach().cpu().numpy()
    return state

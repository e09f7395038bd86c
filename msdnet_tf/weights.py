"""Reference state_dicts (the authors' PyTorch code) in and out of a Keras model of any family.

`model.reference_names()` (each family's `weights.py`) pairs every Keras layer
that holds weights with the reference module prefix of its tensors; this
module moves the tensors (layouts: conv [out, in, kh, kw] -> [kh, kw, in, out],
Linear [out, in] -> [in, out], BN weight/bias/running_mean/running_var) and
checks that every tensor is used exactly once.
"""

import numpy as np

from msdnet_tf.cli import UserError


class WeightImportError(UserError):
    """A state_dict does not fit the model."""


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
    for prefix, keras_name, kind in model.reference_names():
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
            try:
                value = np.asarray(state[key], dtype=np.float32)
                values.append(transform(value) if transform else value)
            except (ValueError, TypeError):  # wrong rank for the transpose, not numbers
                values.append(None)
            used.add(key)
        expected = [tuple(w.shape) for w in layer.weights]
        got = [None if v is None else v.shape for v in values]
        if expected != got:
            raw = [tuple(np.shape(state[f"{prefix}.{suffix}"])) for suffix, _ in
                   _fields(kind, layer)]
            raise WeightImportError(f"tensor shapes under {prefix} {raw} (PyTorch layout) do "
                                    f"not fit Keras layer {keras_name} {expected}: the config "
                                    "does not match the weights")
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
    for prefix, keras_name, kind in model.reference_names():
        if keras_name in model.unreachable_layers:
            continue
        layer = model.get_layer(keras_name)
        for (suffix, transform), w in zip(_fields(kind, layer), layer.get_weights()):
            state[f"{prefix}.{suffix}"] = inverse[kind](w) if transform else w
    return state


def read_weights(path):
    """A state_dict from a .npz (`state/<name>` arrays) or a PyTorch .pth checkpoint.

    Read through `msdnet_tf.files`: never unpickled; any problem is one line naming the file.
    """
    from pathlib import Path

    from msdnet_tf import files

    path = Path(path)
    what, hint = "weights file", "pass a .npz with state/<name> arrays or a .pth state_dict"
    files.regular_file(path, what)
    if path.suffix == ".npz":
        data = files.load_npz(path, what, hint)
        state = {k[len("state/"):]: v for k, v in data.items() if k.startswith("state/")}
        if not state:
            raise files.FileProblem(what, path, "holds no state/<name> arrays (is it a "
                                                "weights file?)", hint)
        return state
    if path.suffix in (".pth", ".pt", ".tar"):
        return files.load_torch_state(path)
    raise WeightImportError(f"weights file {path} must be .npz or .pth/.pt/.pth.tar")

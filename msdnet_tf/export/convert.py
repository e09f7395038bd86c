"""Keras -> TFLite flatbuffers, per quantisation mode, with named multi-signature files.

Every file is converted through a SavedModel written from a `tf.Module` that
holds the graph's variables as plain `tf.Variable`s (`keras.Variable.value`).
Two shorter routes convert without an error but leave the weights as variable
reads and produce NaN outputs with Keras 3 (`from_concrete_functions` with the
Keras model, `tf.saved_model.save(keras_model)`); `from_keras_model` names the
output `output_0`. The tests compare every mode against Keras, so a NaN file
cannot pass unnoticed.

This module imports no Keras: the QAT process (tf_keras) converts with it too.
A signature is `Signature(name, fn, inputs)`: `fn` maps a dict of named float32
tensors to a dict of named outputs; `inputs` maps the names to `tf.TensorSpec`s.
"""

import contextlib
import dataclasses
import tempfile
import warnings

import numpy as np
import tensorflow as tf

MODES = ("float", "dynamic", "float16", "int8", "qat")
# Modes whose files hold int8 activations.
INTEGER_MODES = ("int8", "qat")


class ConversionError(RuntimeError):
    """The TFLite converter refused a graph or produced an unusable file."""


@dataclasses.dataclass
class Signature:
    name: str
    fn: object
    inputs: dict  # name -> tf.TensorSpec (batch 1)


def keras_signature(name, model):
    """A `Signature` of a functional Keras model (Keras 3 or tf_keras).

    A model whose input is a dict takes those names; a single-tensor input is
    named `image`. A single-tensor output is named `logits`.
    """
    struct = model.input
    if isinstance(struct, dict):
        names, tensors = list(struct), list(struct.values())
    else:
        names, tensors = ["image"], [struct]
    inputs = {n: tf.TensorSpec([int(d) for d in t.shape], tf.float32, name=n)
              for n, t in zip(names, tensors)}

    def fn(feeds):
        out = model(feeds if isinstance(struct, dict) else feeds["image"], training=False)
        return out if isinstance(out, dict) else {"logits": out}

    return Signature(name, fn, inputs)


def plain_variables(variables):
    """tf.Variables behind Keras 3 variables (tf_keras variables pass through)."""
    out = []
    for v in variables:
        value = getattr(v, "value", None)
        out.append(value if isinstance(value, tf.Variable) else v)
    return out


def _tf_function(sig):
    names = list(sig.inputs)

    def call(*args):
        return sig.fn(dict(zip(names, args)))

    # No AutoGraph: the graphs are plain Keras calls and explicit tf.cond.
    return tf.function(call, input_signature=[sig.inputs[n] for n in names], autograph=False)


def _module(signatures, variables):
    module = tf.Module()
    module.graph_variables = plain_variables(variables)
    concrete = {}
    for sig in signatures:
        fn = _tf_function(sig)
        setattr(module, sig.name, fn)
        concrete[sig.name] = fn.get_concrete_function()
    return module, concrete


def representative(samples):
    """A representative_dataset over `[(signature_name, {input: array [1, ...]}), ...]`."""

    def gen():
        for name, feeds in samples:
            yield name, {k: np.asarray(v, np.float32) for k, v in feeds.items()}

    return gen


def _configure(converter, mode, samples, int8_io):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}. Received: mode={mode!r}")
    if mode == "float":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        if not samples:
            raise ValueError("int8 conversion needs calibration samples")
        converter.representative_dataset = representative(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # "qat": the fake-quant ops of the graph give every range; no calibration.
    if mode in INTEGER_MODES:
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8


@contextlib.contextmanager
def converter(signatures, variables, mode, samples=None, int8_io=False):
    """A configured `tf.lite.TFLiteConverter` for `signatures` (arguments of `convert`).

    A context manager: the converter reads a temporary SavedModel.
    """
    module, concrete = _module(signatures, variables)
    if len(signatures) == 1:
        keys = ["serving_default"]
        concrete = {"serving_default": concrete[signatures[0].name]}
        if samples:
            samples = [("serving_default", feeds) for _, feeds in samples]
    else:
        keys = [s.name for s in signatures]
    with tempfile.TemporaryDirectory() as folder:
        tf.saved_model.save(module, folder, signatures=concrete)
        result = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=keys)
        _configure(result, mode, samples, int8_io)
        with warnings.catch_warnings():
            # The converter's own calibrator still runs tf.lite.Interpreter.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            yield result


def convert(signatures, variables, mode, samples=None, int8_io=False):
    """TFLite flatbuffer (bytes) holding `signatures`; one signature is `serving_default`.

    signatures: list of `Signature`; variables: every variable they read.
    mode: one of MODES ("qat" expects a graph with fake-quant ops).
    samples: calibration for "int8", `[(signature_name, {input: [1, ...] array}), ...]`.
    int8_io: int8 inputs and outputs (integer modes; every input and output).
    """
    with converter(signatures, variables, mode, samples, int8_io) as tflite_converter:
        try:
            return tflite_converter.convert()
        except Exception as e:  # noqa: BLE001 - the converter raises many types
            names = ", ".join(s.name for s in signatures)
            raise ConversionError(f"{mode} conversion of {names} failed: {e}") from e

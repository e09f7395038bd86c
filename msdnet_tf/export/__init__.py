"""TFLite deployment of a trained MSDNet: conversion per quantisation mode, checks, manifest.

    from msdnet_tf.export.pipeline import Exporter, load_for_export
    cfg, model = load_for_export("runs/quickstart")
    Exporter("runs/quickstart", cfg, model).export("int8", "out/int8")

Modules: `convert` (Keras -> flatbuffer, Keras-free, shared with the QAT
process), `graphs` (exit, cascade and in-graph early-exit signatures),
`calibration` (images through the shared preprocessing), `runner` (LiteRT
execution by signature name), `fidelity`, `delegation` (XNNPACK check),
`manifest`, `pipeline` (all of it for one run), `qat_runner` (starts `qat`,
quantisation-aware training on tf_keras, in its own process).

Importing this package imports nothing heavy: `qat` must be able to set
TF_USE_LEGACY_KERAS=1 before TensorFlow is imported.
"""

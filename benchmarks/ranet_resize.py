"""RANet's align_corners bilinear resize on LiteRT: RESIZE_BILINEAR vs constant interpolation matmuls.

    python benchmarks/ranet_resize.py --reps 200 --json benchmarks/results/ranet_resize.json

Two ways to run the resize the reference does with
`F.interpolate(..., mode="bilinear", align_corners=True)`:
  op:     TensorFlow's ResizeBilinear(align_corners=True) (msdnet_tf's
          AlignCornersResize layer), converted to TFLite RESIZE_BILINEAR;
  matmul: two constant [m, n] interpolation matrices with float32 weights (spec
          formula) applied by einsum over H and W.
For every resize shape RANet uses (2x up and 2:1 down, CIFAR and ImageNet
sides), each variant is checked in Keras against the spec's NumPy formula,
converted in float and int8 (calibrated), checked for XNNPACK delegation
(ops left to the builtin kernels), compared with the NumPy reference, and
timed at batch 1 on 1 thread (a 1x1 conv before and after, so the graph is
not only the resize).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

# (input side, output side, channels): up-samples and 2:1 down-samples of the quickstart,
# the CIFAR anytime network and the ImageNet figure network.
SHAPES = [(8, 16, 32), (16, 32, 16), (16, 8, 64), (32, 16, 50), (7, 14, 64), (14, 7, 128),
          (28, 56, 32), (56, 28, 64)]


def matmul_layer():
    import keras

    from msdnet_tf.models.ranet.layers import interpolation_matrix

    class MatmulResize(keras.layers.Layer):
        def __init__(self, size, **kwargs):
            super().__init__(**kwargs)
            self.size = tuple(size)

        def build(self, shape):
            self.a_h = interpolation_matrix(shape[1], self.size[0])
            self.a_w = interpolation_matrix(shape[2], self.size[1])

        def call(self, x):
            x = keras.ops.einsum("oh,nhwc->nowc", self.a_h, x)
            return keras.ops.einsum("pw,nowc->nopc", self.a_w, x)

    return MatmulResize


def build(variant, n, m, c, with_convs):
    import keras

    from msdnet_tf.models.ranet.layers import AlignCornersResize

    layer = AlignCornersResize if variant == "op" else matmul_layer()
    image = keras.Input((n, n, c), batch_size=1, name="image")
    x = keras.layers.Conv2D(c, 1, name="pre")(image) if with_convs else image
    x = layer((m, m), name="resize")(x)
    x = keras.layers.Conv2D(c, 1, name="post")(x) if with_convs else x
    return keras.Model(image, x)


def time_ms(runner, feed, reps):
    for _ in range(10):
        runner(**feed)
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        runner(**feed)
        samples.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(samples))


def measure(variant, shape, mode, reps, rng):
    from ai_edge_litert.interpreter import Interpreter

    from msdnet_tf.export.convert import convert, keras_signature
    from msdnet_tf.export.delegation import check_xnnpack
    from msdnet_tf.models.ranet.layers import resize_reference

    n, m, c = shape
    row = {"variant": variant, "shape": f"{n}->{m} x{c}", "mode": mode}
    x = rng.normal(size=(1, n, n, c)).astype(np.float32)
    bare = build(variant, n, m, c, with_convs=False)
    ref = resize_reference(x, (m, m))
    row["keras_max_abs_err"] = float(np.abs(np.asarray(bare(x)) - ref).max())
    samples = None
    if mode == "int8":
        samples = [("serving_default", {"image": rng.normal(size=(1, n, n, c)).astype(np.float32)})
                   for _ in range(32)]
    data = convert([keras_signature("serving_default", bare)], bare.variables, mode, samples)
    out = next(iter(Interpreter(model_content=data).get_signature_runner()(image=x).values()))
    row["tflite_max_abs_err"] = float(np.abs(out - ref).max())
    model = build(variant, n, m, c, with_convs=True)
    data = convert([keras_signature("serving_default", model)], model.variables, mode, samples)
    report = check_xnnpack(data)
    row["ops"] = report.signatures["serving_default"]["ops"]
    row["fully_delegated"] = report.fully_delegated
    row["not_delegated"] = report.not_delegated
    runner = Interpreter(model_content=data, num_threads=1).get_signature_runner()
    row["ms"] = time_ms(runner, {"image": x}, reps)
    return row


def table(rows):
    lines = ["| shape | mode | variant | TFLite ops (with a 1x1 conv before and after) | "
             "XNNPACK | Keras err | TFLite err | ms (1 thread) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(r["ops"].items()))
        deleg = "full" if r["fully_delegated"] else f"left: {r['not_delegated']}"
        lines.append(f"| {r['shape']} | {r['mode']} | {r['variant']} | {ops} | {deleg} | "
                     f"{r['keras_max_abs_err']:.1e} | {r['tflite_max_abs_err']:.1e} | "
                     f"{r['ms']:.4f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args(argv)
    from msdnet_tf.runtime.benchmark import machine

    rng = np.random.default_rng(0)
    rows = [measure(variant, shape, mode, args.reps, rng)
            for shape in SHAPES for mode in ("float", "int8") for variant in ("op", "matmul")]
    print(f"machine: {machine()}; date: {time.strftime('%Y-%m-%d')}")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "date": time.strftime(
            "%Y-%m-%d"), "reps": args.reps, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()

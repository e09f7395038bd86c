"""Writes the parity vectors the Java tests of android_demo/cascade-core must reproduce.

    python android_demo/tools/make_test_vectors.py \
        --models /tmp/msdnet_demo_models/float /tmp/msdnet_demo_models/int8

Everything expected comes from the Python code of record, never from a second
implementation: `msdnet_tf.data.preprocess_batch` (preprocessing),
`msdnet_tf.runtime.cascade.Cascade` on LiteRT (stages, int8 quantisation, dequantised
logits), `msdnet_tf.evaluation.scores.max_softmax` (confidence) and
`msdnet_tf.evaluation.budgeted` (thresholds for q, exits). Writes into
android_demo/cascade-core/src/test/resources/vectors/:

- preprocessing.json: uint8 images and the float32 model inputs they become, for every
  op the manifest can list (pad, gray_to_rgb, nearest and antialiased bilinear resizes,
  shorter-side resize, centre crop);
- preprocessing_data.json: the same for datasets described by their data (`folder`,
  `tfds:NAME`): RGB images of any size, mean/std computed from the data (written alone
  with --data-only, which needs no converted model);
- <mode>/manifest.json (+ thresholds.json) copied from each converted model, and
  <mode>/cascade.json: real test images run through cascade.tflite, per stage the raw and
  dequantised logits, the confidence and the prediction, and the exits and predictions for
  several threshold settings.

Arrays of numbers are stored as base64 of little-endian bytes (uint8, float32): exact and
compact. Run it again after the model or the preprocessing changes and commit the result.
"""

import argparse
import base64
import json
import math
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

OUT = REPO / "android_demo" / "cascade-core" / "src" / "test" / "resources" / "vectors"
# Model-independent preprocessing cases: (dataset, image_size, image source, label).
PREPROCESSING_CASES = (
    ("digits", 32, "digits", "nearest 8x8 -> 32x32 (ResizeNearestNeighbor), gray_to_rgb"),
    ("cifar10", 40, (32, 32, 3), "antialiased bilinear upsampling 32 -> 40"),
    ("cifar10", 24, (32, 32, 3), "antialiased bilinear downsampling 32 -> 24"),
    ("imagenet2012", 32, (41, 57, 3), "shorter side 41 -> 37 (floor rule), centre crop 32"),
    ("imagenet2012", 48, (96, 61, 3), "shorter side 61 -> 55, centre crop 48, tall image"),
)
# Datasets described by their data: (dataset, image_size, image (h, w), native size, label).
DATA_CASES = (
    ("folder", 32, (41, 57), None, "folder: stretch 41x57 -> 32x32 (antialiased bilinear)"),
    ("folder", 32, (13, 20), None, "folder: stretch 13x20 -> 32x32 (upsampling)"),
    ("folder", 66, (90, 80), None, "folder above 64: shorter side 80 -> 75, centre crop 66"),
    ("tfds:msdnet_gray", 32, (28, 28), (28, 28), "tfds:NAME, fixed 28x28 stored as gray -> RGB"),
)
DATA_MEAN, DATA_STD = (0.4321, 0.5012, 0.3876), (0.2101, 0.1987, 0.2403)
NUM_CASCADE_IMAGES = 12
NUM_HOLDOUT_IMAGES = 400  # a disjoint slice of the test split, to find thresholds for q
Q_VALUES = (0.25, 1.0, 4.0)


def b64(array, dtype):
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def encode(t):
    return t if math.isfinite(t) else ("inf" if t > 0 else "-inf")


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    print(f"wrote {shown} ({path.stat().st_size // 1024} KB)")


def image_record(image, output):
    image = np.asarray(image, np.uint8)
    image = image[..., None] if image.ndim == 2 else image
    return {"height": image.shape[0], "width": image.shape[1], "channels": image.shape[2],
            "image_u8": b64(image, np.uint8), "expected_f32": b64(output, "<f4")}


def preprocessing_vectors(model_dataset=None, model_images=()):
    from msdnet_tf.data import preprocess_batch, preprocessing_spec
    from msdnet_tf.data.sources import load_digits

    rng = np.random.default_rng(20240611)
    cases = []
    for dataset, size, source, what in PREPROCESSING_CASES:
        if source == "digits":
            images = list(load_digits().test_x[:2])
        else:
            # Smooth structure plus noise, so resizes see edges as well as flat regions.
            h, w, c = source
            yy, xx = np.mgrid[0:h, 0:w]
            base = (127 + 120 * np.sin(xx / 3.0) * np.cos(yy / 5.0))[..., None]
            images = [np.clip(base + rng.integers(-60, 61, (h, w, c)), 0, 255).astype(np.uint8),
                      rng.integers(0, 256, (h, w, c), dtype=np.uint8)]
        out = preprocess_batch(dataset, images, size)
        cases.append({"what": what, "dataset": dataset, "image_size": size,
                      "spec": preprocessing_spec(dataset, size),
                      "images": [image_record(i, o) for i, o in zip(images, out)]})
    if model_dataset is not None:
        dataset, size = model_dataset
        out = preprocess_batch(dataset, list(model_images), size)
        cases.insert(0, {"what": f"the model's own preprocessing ({dataset}, real test images)",
                         "dataset": dataset, "image_size": size,
                         "spec": preprocessing_spec(dataset, size),
                         "images": [image_record(i, o) for i, o in zip(model_images, out)]})
    return cases


def data_preprocessing_vectors():
    """Cases of datasets whose classes and mean/std come from the data (folder, tfds:NAME)."""
    from msdnet_tf.data import preprocess_batch, preprocessing_spec, registry

    rng = np.random.default_rng(20261201)
    cases = []
    for dataset, size, (h, w), native, what in DATA_CASES:
        info = registry.DatasetInfo(dataset, 3, 3, native, DATA_MEAN, DATA_STD, 1,
                                    ("a", "b", "c"))
        spec = preprocessing_spec(dataset, size, "default", info)
        yy, xx = np.mgrid[0:h, 0:w]
        base = (127 + 120 * np.sin(xx / 4.0) * np.cos(yy / 3.0))[..., None]
        images = [np.clip(base + rng.integers(-50, 51, (h, w, 3)), 0, 255).astype(np.uint8)]
        if native is not None:  # a gray dataset decoded to RGB: three equal channels
            images = [np.repeat(i[..., :1], 3, axis=-1) for i in images]
        out = preprocess_batch(spec, images)
        cases.append({"what": what, "dataset": dataset, "image_size": size, "spec": spec,
                      "images": [image_record(i, o) for i, o in zip(images, out)]})
    return cases


def run_stages(cascade, image):
    """Per stage: the raw logits tensor as the model returned it, and the dequantised ones."""
    feats, rows = {"image": image}, []
    for k in range(cascade.num_exits):
        out = cascade.stage(k, feats)
        rows.append((np.asarray(out["logits"]).copy(), cascade.logits(k, out)[0]))
        out.pop("logits")
        feats = out
    return rows


def threshold_settings(manifest, holdout_max_prob, first_conf):
    from msdnet_tf.evaluation import budgeted

    k = manifest["num_exits"]
    inf = math.inf
    settings = []
    if manifest.get("thresholds"):
        settings.append(("manifest thresholds", [float(v) for v in
                                                 manifest["thresholds"]["thresholds"]], False))
    finder = budgeted.ThresholdFinder(holdout_max_prob)
    for q in Q_VALUES:
        settings.append((f"hold-out q={q}", [float(t) for t in finder.thresholds(q)], False))
    settings.append(("all 0.5", [0.5] * (k - 1) + [-inf], False))
    settings.append(("everyone at exit_0", [0.0] * (k - 1) + [-inf], False))
    settings.append(("everyone at the last exit", [inf] * (k - 1) + [-inf], False))
    # A threshold equal to image 0's confidence at exit_0: >= must keep it there. Exact
    # equality is only meaningful on Python's own confidences (see Softmax.java).
    settings.append(("tie at image 0, exit_0", [first_conf] + [inf] * (k - 2) + [-inf], True))
    return settings


def cascade_vectors(models_dir, threads=1):
    from msdnet_tf.evaluation import budgeted
    from msdnet_tf.evaluation.scores import max_softmax
    from msdnet_tf.runtime import inputs
    from msdnet_tf.runtime import cascade as runtime_cascade

    # The runtime's quantiser (public `quantize` in newer versions of the module).
    quantize = getattr(runtime_cascade, "quantize", None) or runtime_cascade._quantize
    cascade = runtime_cascade.Cascade.load(models_dir, threads=threads)
    manifest = cascade.manifest
    dataset = manifest["preprocessing"]["dataset"]
    size = manifest["input"]["shape"][1]
    n = NUM_CASCADE_IMAGES + NUM_HOLDOUT_IMAGES
    items = inputs.from_dataset(manifest, dataset, "test", limit=n)
    n = len(items)  # a small test split (digits: 300) has fewer hold-out images
    if n <= NUM_CASCADE_IMAGES:
        raise SystemExit(f"the {dataset} test split has {n} images; at least "
                         f"{NUM_CASCADE_IMAGES + 1} are needed")
    x = inputs.preprocess(manifest, items)
    stage0_in = next(t for t in manifest["cascade"]["stages"][0]["inputs"] if t["name"] == "image")

    holdout = np.stack([[max_softmax(row[1][None])[0] for row in run_stages(cascade, x[i:i + 1])]
                        for i in range(NUM_CASCADE_IMAGES, n)], axis=1)
    images = []
    for i in range(NUM_CASCADE_IMAGES):
        rows = run_stages(cascade, x[i:i + 1])
        image = np.asarray(items[i].image, np.uint8)
        image = image[..., None] if image.ndim == 2 else image
        record = {"index": items[i].index, "label": items[i].label,
                  "shape": list(image.shape), "image_u8": b64(image, np.uint8), "input_f32": b64(x[i], "<f4"),
                  "stages": []}
        if stage0_in.get("quantization"):
            record["input_i8"] = b64(quantize(x[i:i + 1], stage0_in["quantization"]), np.int8)
        for raw, logits in rows:
            stage = {"logits": [float(v) for v in np.asarray(logits, np.float32)],
                     "confidence": float(max_softmax(logits[None])[0]),
                     "prediction": int(np.argmax(logits))}
            if raw.dtype == np.int8:
                stage["logits_i8"] = [int(v) for v in raw.reshape(-1)]
            record["stages"].append(stage)
        images.append(record)

    conf = np.array([[s["confidence"] for s in im["stages"]] for im in images]).T  # [K, N]
    preds = np.array([[s["prediction"] for s in im["stages"]] for im in images]).T
    settings = []
    for name, thresholds, tie in threshold_settings(manifest, holdout, conf[0, 0]):
        exits = budgeted.assign_exits(conf, thresholds)
        # The runtime of record, run for real, must agree with the evaluation's rule.
        for i in range(NUM_CASCADE_IMAGES):
            d = cascade.classify(x[i:i + 1], thresholds=thresholds)
            assert (d.exit, d.pred) == (exits[i], preds[exits[i], i]), (name, i, d)
        settings.append({"name": name, "thresholds": [encode(t) for t in thresholds],
                         "tie": tie, "exits": exits.tolist(),
                         "predictions": preds[exits, np.arange(len(exits))].tolist()})
    margins = [abs(c - t) / t for s in settings if not s["tie"]
               for t, row in zip([float(v) for v in s["thresholds"]], conf) if 0 < t < 1
               for c in row]
    if margins and min(margins) < 1e-12:
        raise SystemExit("a test image's confidence is within 1e-12 of a threshold: pick other "
                         "images or q values (the Java exp may differ by an ulp)")
    return manifest, {"model": manifest["model"], "mode": manifest["mode"], "dataset": dataset,
                      "image_size": size, "images": images, "settings": settings}


def versions():
    import importlib.metadata as md

    return {p: md.version(p) for p in ("numpy", "tensorflow", "ai-edge-litert")}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--models", nargs="*", default=[],
                   help="tflite/convert.py output directories (manifest.json + cascade.tflite)")
    p.add_argument("--out", default=str(OUT), help="the vectors directory")
    p.add_argument("--data-only", action="store_true",
                   help="write preprocessing_data.json only (no converted model needed)")
    args = p.parse_args(argv)
    out = Path(args.out)
    write_json(out / "preprocessing_data.json",
               {"generated_by": {"script": "android_demo/tools/make_test_vectors.py",
                                 "versions": versions()},
                "cases": data_preprocessing_vectors()})
    if args.data_only:
        return 0
    model_dataset, model_images = None, ()
    for models_dir in args.models:
        manifest, vectors = cascade_vectors(models_dir)
        mode_dir = out / manifest["mode"]
        if mode_dir.exists():
            shutil.rmtree(mode_dir)
        mode_dir.mkdir(parents=True)
        shutil.copy(Path(models_dir) / "manifest.json", mode_dir / "manifest.json")
        if (Path(models_dir) / "thresholds.json").is_file():
            shutil.copy(Path(models_dir) / "thresholds.json", mode_dir / "thresholds.json")
        vectors["generated_by"] = {"script": "android_demo/tools/make_test_vectors.py",
                                   "models": str(models_dir), "versions": versions()}
        write_json(mode_dir / "cascade.json", vectors)
        if model_dataset is None:
            model_dataset = (vectors["dataset"], vectors["image_size"])
            model_images = [np.frombuffer(base64.b64decode(im["image_u8"]), np.uint8)
                            .reshape(im["shape"]) for im in vectors["images"][:3]]
    write_json(out / "preprocessing.json",
               {"generated_by": {"script": "android_demo/tools/make_test_vectors.py",
                                 "versions": versions()},
                "cases": preprocessing_vectors(model_dataset, model_images)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The Java core's parity vectors are frozen files; these tests keep them honest.

android_demo/cascade-core/src/test/resources/vectors holds what the Python code of record
computed (android_demo/tools/make_test_vectors.py) and what the Java tests must reproduce.
A change to the preprocessing, the int8 (de)quantisation, the softmax or the exit rule
would leave those files, and so the Java tests, green while Java and Python disagree. So:

- every value in the frozen files that is a function of the Python code (model inputs from
  the images, quantised inputs, dequantised logits, confidences, predictions, the exits of
  every threshold setting, the manifests' validity) is computed again here from the current
  code and must agree within float tolerance; a missing file is a failure;
- make_test_vectors.py itself runs on a conversion made in this test session, and the Java
  tests run on what it wrote (same schema as the frozen files), so Java is checked against
  the current Python code on a fresh model too.
"""

import base64
import importlib.util
import json
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

from tests.conftest import REPO

VECTORS = REPO / "android_demo" / "cascade-core" / "src" / "test" / "resources" / "vectors"
MODES = ("float", "int8")  # TestFiles.MODES of the Java tests
FILES = ["preprocessing.json"] + [f"{m}/{f}" for m in MODES
                                  for f in ("manifest.json", "cascade.json")]
ATOL = 1e-5  # preprocessing outputs are O(1); a real change moves them by 1e-3 or more


def _tools():
    spec = importlib.util.spec_from_file_location(
        "make_test_vectors", REPO / "android_demo" / "tools" / "make_test_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _u8(record, shape):
    return np.frombuffer(base64.b64decode(record), np.uint8).reshape(shape)


def _f32(record):
    return np.frombuffer(base64.b64decode(record), "<f4")


def _threshold(value):
    return float(value) if not isinstance(value, str) else {"inf": math.inf,
                                                            "-inf": -math.inf}[value]


@pytest.mark.parametrize("name", FILES)
def test_every_frozen_vector_file_is_there(name):
    assert (VECTORS / name).is_file(), f"missing parity vectors {name}: the Java parity tests " \
                                       "would have nothing to check"


def test_frozen_preprocessing_vectors_match_the_current_code():
    from msdnet_tf.data import preprocess_batch, preprocessing_spec

    data = json.loads((VECTORS / "preprocessing.json").read_text())
    assert len(data["cases"]) >= 5
    for case in data["cases"]:
        dataset, size = case["dataset"], case["image_size"]
        assert case["spec"] == preprocessing_spec(dataset, size), case["what"]
        images = [_u8(im["image_u8"], (im["height"], im["width"], im["channels"]))
                  for im in case["images"]]
        out = preprocess_batch(dataset, images, size)
        for im, got in zip(case["images"], out):
            np.testing.assert_allclose(got.reshape(-1), _f32(im["expected_f32"]), rtol=0,
                                       atol=ATOL, err_msg=case["what"])


@pytest.mark.parametrize("mode", MODES)
def test_frozen_cascade_vectors_match_the_current_code(mode):
    from msdnet_tf.data import preprocess_batch
    from msdnet_tf.evaluation.budgeted import assign_exits
    from msdnet_tf.evaluation.scores import max_softmax
    from msdnet_tf.runtime import cascade as runtime
    from msdnet_tf.runtime.manifest import validate

    manifest = json.loads((VECTORS / mode / "manifest.json").read_text())
    validate(manifest, VECTORS / mode / "manifest.json")  # the runtime still reads it
    vectors = json.loads((VECTORS / mode / "cascade.json").read_text())
    assert vectors["model"] == manifest["model"] and vectors["mode"] == mode
    stages = manifest["cascade"]["stages"]
    in_quant = stages[0]["inputs"][0]["quantization"]
    logit_quant = [next(t["quantization"] for t in s["outputs"] if t["name"] == "logits")
                   for s in stages]
    confidences, predictions = [], []
    for im in vectors["images"]:
        image = _u8(im["image_u8"], im["shape"])
        x = preprocess_batch(vectors["dataset"], [image], vectors["image_size"])
        np.testing.assert_allclose(x.reshape(-1), _f32(im["input_f32"]), rtol=0, atol=ATOL)
        if "input_i8" in im:
            want = np.frombuffer(base64.b64decode(im["input_i8"]), np.int8)
            got = runtime.quantize(_f32(im["input_f32"]), in_quant).reshape(-1)
            np.testing.assert_array_equal(got, want)
        conf, pred = [], []
        for k, stage in enumerate(im["stages"]):
            logits = np.asarray(stage["logits"], np.float32)
            if "logits_i8" in stage:
                raw = np.asarray(stage["logits_i8"], np.int8)[None]
                np.testing.assert_allclose(runtime._dequantize(raw, logit_quant[k])[0], logits,
                                           rtol=1e-6, atol=0)
            c = float(max_softmax(logits[None])[0])
            assert c == pytest.approx(stage["confidence"], rel=1e-12, abs=0)
            assert int(np.argmax(logits)) == stage["prediction"]
            conf.append(stage["confidence"])
            pred.append(stage["prediction"])
        confidences.append(conf)
        predictions.append(pred)
    conf, pred = np.asarray(confidences).T, np.asarray(predictions).T  # [K, N]
    assert vectors["settings"]
    for setting in vectors["settings"]:
        thresholds = [_threshold(t) for t in setting["thresholds"]]
        exits = assign_exits(conf, thresholds)
        assert exits.tolist() == setting["exits"], setting["name"]
        assert pred[exits, np.arange(len(exits))].tolist() == setting["predictions"]


def _keys(value, depth=0):
    """The schema of a vectors file: keys of objects, recursively, first list item only."""
    if isinstance(value, dict):
        return {k: _keys(v, depth + 1) for k, v in value.items()
                if k not in ("generated_by",)}
    if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        return [_keys(value[0], depth + 1)]
    return None


@pytest.fixture(scope="module")
def fresh_vectors(converted_run, tmp_path_factory):
    """make_test_vectors.py run on the session's float conversion."""
    _, conversion = converted_run
    out = tmp_path_factory.mktemp("vectors")
    assert _tools().main(["--models", str(conversion), "--out", str(out)]) == 0
    return out


def test_the_generator_writes_the_schema_of_the_frozen_files(fresh_vectors):
    for name in ("preprocessing.json", "float/cascade.json"):
        fresh = json.loads((fresh_vectors / name).read_text())
        frozen = json.loads((VECTORS / name).read_text())
        assert _keys(fresh) == _keys(frozen), name


@pytest.mark.skipif(shutil.which(os.environ.get("JAVA_HOME", "") + "/bin/javac"
                                 if os.environ.get("JAVA_HOME") else "javac") is None,
                    reason="no JDK (javac) to run the Java core's tests")
def test_java_agrees_with_the_current_python_on_a_fresh_conversion(fresh_vectors):
    env = {**os.environ, "VECTORS_DIR": str(fresh_vectors), "VECTORS_MODES": "float"}
    result = subprocess.run([str(REPO / "android_demo" / "cascade-core" / "test.sh")],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " 0 failed, 0 skipped" in result.stdout, result.stdout[-2000:]

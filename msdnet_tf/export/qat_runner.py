"""Starts quantisation-aware training (`msdnet_tf.export.qat`) in its own process.

TFMOT needs tf_keras and must never be imported next to Keras 3, so the Keras 3
process hands over the trained weights (npz by layer name, with reference
logits for a parity check) and the resolved config, and the child writes the
int8 exit and cascade files into the output folder.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from msdnet_tf import config as config_lib
from msdnet_tf.cli import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
PARITY_IMAGES = 4


def check_installed():
    missing = [name for name in ("tf_keras", "tensorflow_model_optimization")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"--mode qat needs {', '.join(missing)}: pip install -e '.[qat]' "
                        "(tf-keras==2.21.0, tensorflow-model-optimization==0.8.1)")


def save_weights(model, path, seed=0):
    """Every layer's weights as "layer/i", plus random images and their Keras logits."""
    arrays = {f"{layer.name}/{i}": np.asarray(w)
              for layer in model.layers for i, w in enumerate(layer.weights)}
    size = model.image_size
    image = np.random.default_rng(seed).normal(size=(PARITY_IMAGES, size, size, 3))
    image = image.astype(np.float32)
    outputs = model(image, training=False)
    arrays["__ref__/image"] = image
    arrays.update({f"__ref__/{key}": np.asarray(v) for key, v in outputs.items()})
    np.savez(path, **arrays)


def _environment():
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def run(workdir, cfg, model, out, int8_io=False, in_graph_exit=False, progress=None):
    """QAT + int8 conversion into `out`, in a child process; RuntimeError with its log if it fails.

    The child's progress lines (and Keras's fit log) are passed to `progress`.
    """
    check_installed()
    progress = progress or (lambda message: None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config_lib.save_config(cfg, tmp / "config.yaml")
        save_weights(model, tmp / "weights.npz")
        command = [sys.executable, "-m", "msdnet_tf.export.qat", "--config",
                   str(tmp / "config.yaml"), "--workdir", str(workdir), "--weights",
                   str(tmp / "weights.npz"), "--output", str(out)]
        command += ["--int8-io"] if int8_io else []
        command += ["--in-graph-exit"] if in_graph_exit else []
        with open(tmp / "stderr.log", "w+") as log:
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True,
                                     env=_environment(), cwd=str(REPO_ROOT))
            for line in child.stdout:
                progress(line.rstrip())
            code = child.wait()
            log.seek(0)
            tail = log.read()[-4000:]
    if code != 0:
        raise RuntimeError(f"quantisation-aware training failed (exit code {code}):\n{tail}")

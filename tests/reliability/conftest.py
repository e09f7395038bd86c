"""Real files for the hostile-input tests: copies of one tiny trained, evaluated and
converted run (tests/conftest.py `converted_run`), plus what the other CLIs read."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli


@dataclasses.dataclass
class RealFiles:
    run: Path          # a finished training run, evaluated (logits, thresholds, budgeted)
    conversion: Path   # its float conversion, with latency_1t.json from tflite/benchmark.py
    other_conversion: Path  # its dynamic-range conversion (same file names, other files)
    weights_npz: Path  # the run's weights as a reference state_dict (.npz, state/<name>)
    weights_pth: Path  # the same as a PyTorch .pth
    other_keras: Path  # a .keras model of another configuration
    other_config: Path  # that configuration


@pytest.fixture(scope="session")
def real_files(converted_run, tmp_path_factory):
    return make_real_files(*converted_run, tmp_path_factory.mktemp("real_files"))


def make_real_files(workdir, out, root):
    import keras

    from msdnet_tf import config as config_lib
    from msdnet_tf.weights import export_state_dict

    conversion = root / "float"
    shutil.copytree(out, conversion)
    run_cli("tflite/benchmark.py", "--models", conversion, "--reps", "3", "--warmup", "1")
    other_conversion = root / "dynamic"
    run_cli("tflite/convert.py", "--workdir", workdir, "--mode", "dynamic", "--output",
            other_conversion)
    model = keras.models.load_model(workdir / "model.keras")
    state = export_state_dict(model)
    weights_npz = root / "weights.npz"
    np.savez(weights_npz, **{f"state/{k}": v for k, v in state.items()})
    weights_pth = root / "weights.pth"
    import torch

    torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
               weights_pth)
    cfg = config_lib.load_config(workdir / "config.yaml", ["model.growth_rate=6"])
    other_config = root / "other.yaml"
    config_lib.save_config(cfg, other_config)
    other_keras = root / "other.keras"
    config_lib.build_model(cfg).save(other_keras)
    return RealFiles(workdir, conversion, other_conversion, weights_npz, weights_pth,
                     other_keras, other_config)

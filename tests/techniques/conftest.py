"""A resolution-switchable run directory without training: config, hold-out, model.keras."""

import json

import pytest

from tests.conftest import TINY

SIZES = [32, 24, 16]


def make_run(workdir, sizes=SIZES, **model):
    """Writes config.yaml, holdout.json and an untrained model.keras (digits, TINY network)."""
    from msdnet_tf import config as config_lib
    from msdnet_tf import data as data_lib

    overrides = [f"model.{k}={json.dumps(v)}" for k, v in {**TINY, **model}.items()]
    overrides += [f"model.resolutions={json.dumps(sizes)}", "model.head_pool=global",
                  "data.dataset=digits", "train.batch_size=32", "eval.batch_size=300"]
    cfg = config_lib.load_config(None, overrides)
    workdir.mkdir(parents=True, exist_ok=True)
    data_lib.build_from_config(cfg, workdir)  # writes holdout.json
    config_lib.save_config(cfg, workdir / "config.yaml")
    config_lib.build_model(cfg).save(workdir / "model.keras")
    return workdir


@pytest.fixture(scope="session")
def switch_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("switch_run"))

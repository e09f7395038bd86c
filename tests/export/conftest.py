"""A tiny MSDNet trained for a few steps on digits, and its exports (once per session)."""

import pytest

# Two scales at 16x16: the classifiers still pool a 2x2 map, conversions stay fast.
TINY_RUN = [
    "data.dataset=digits", "data.holdout_size=100", "model.num_classes=10",
    "model.num_blocks=3", "model.step=1", "model.base=2", "model.num_channels=8",
    "model.growth_rate=4", "model.growth_factors=[1,2]", "model.bottleneck_factors=[1,2]",
    "model.image_size=16", "train.epochs=1", "train.steps_per_epoch=40", "train.batch_size=32",
    "export.calibration_images=64", "export.fidelity_images=120",
]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A finished training run directory (config.yaml, model.keras, results.json)."""
    from msdnet_tf import config as config_lib
    from msdnet_tf.training.trainer import Trainer

    workdir = tmp_path_factory.mktemp("tiny_run")
    cfg = config_lib.load_config(None, TINY_RUN)
    trainer = Trainer(cfg, workdir)
    trainer.fit(verbose=False)
    trainer.finish()
    return workdir


@pytest.fixture(scope="session")
def exporter(trained_run):
    from msdnet_tf.export.pipeline import Exporter, load_for_export

    cfg, model = load_for_export(trained_run)
    return Exporter(trained_run, cfg, model)


class Exports:
    """Converts each mode once per session: `exports("int8") -> (folder, report)`."""

    def __init__(self, exporter, root):
        self.exporter, self.root, self.done = exporter, root, {}

    def __call__(self, mode):
        if mode not in self.done:
            out = self.root / mode
            report = self.exporter.export(mode, out, in_graph_exit=(mode == "float"))
            self.done[mode] = (out, report)
        return self.done[mode]


@pytest.fixture(scope="session")
def exports(exporter, tmp_path_factory):
    return Exports(exporter, tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="session")
def imta_run(trained_run, tmp_path_factory):
    """IMTA stage 2 (ISC heads, distillation) on top of `trained_run`, a few steps."""
    from msdnet_tf import config as config_lib
    from msdnet_tf.training.trainer import Trainer

    workdir = tmp_path_factory.mktemp("imta_run")
    cfg = config_lib.load_config(None, TINY_RUN + [f"train.imta.from={trained_run}",
                                                   "train.steps_per_epoch=20"])
    trainer = Trainer(cfg, workdir)
    trainer.fit(verbose=False)
    trainer.finish()
    return workdir


@pytest.fixture(scope="session")
def imta_exports(imta_run, tmp_path_factory):
    from msdnet_tf.export.pipeline import Exporter, load_for_export

    cfg, model = load_for_export(imta_run)
    return Exports(Exporter(imta_run, cfg, model), tmp_path_factory.mktemp("imta_exports"))

"""python -m msdnet_tf.predict: labels, exits and costs of image files, from a trained run."""

import json

import numpy as np
import pytest

from msdnet_tf import evaluation as ev
from msdnet_tf import predict
from msdnet_tf.data import registry
from tests.data.folders import CLASSES, KINDS, write_folder, write_image

TINY_FOLDER_RUN = [
    "model.num_blocks=3", "model.step=1", "model.base=2", "model.num_channels=8",
    "model.growth_rate=4", "model.growth_factors=[1,2]", "model.bottleneck_factors=[1,2]",
    "model.image_size=16", "train.epochs=1", "train.steps_per_epoch=2", "train.batch_size=4",
    "data.holdout_size=3",
]


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A run trained for 2 steps on a mixed image folder: (workdir, folder, made)."""
    from msdnet_tf import config as config_lib
    from msdnet_tf.training.trainer import Trainer

    root = tmp_path_factory.mktemp("images")
    made = write_folder(root, train_per_class=4, test_per_class=2)
    workdir = tmp_path_factory.mktemp("run")
    cfg = config_lib.load_config(None, ["data.dataset=folder", f"data.image_folder={root}",
                                        *TINY_FOLDER_RUN])
    trainer = Trainer(cfg, workdir)
    trainer.fit(verbose=False)
    trainer.finish()
    return workdir, root, made


def run_json(capsys, *argv):
    assert predict.main(["--json", *map(str, argv)]) == 0
    return json.loads(capsys.readouterr().out)


def test_text_output_and_bad_files(folder_run, capsys):
    workdir, root, made = folder_run
    assert predict.main(["--workdir", str(workdir), str(root / "train" / "cat"),
                         str(root / "test")]) == 0
    out, err = capsys.readouterr()
    assert "not_an_image.png: is not in an image format" in err  # listed, skipped
    assert "3 exits, 3 classes" in out and "every image runs to the last exit" in out
    lines = [line for line in out.splitlines() if "top-5:" in line]
    assert len(lines) == 4 + made["test"]
    assert all(" exit 2 " in line and "M FLOPs" in line for line in lines)
    assert "skipped 1 unreadable file(s)" in out


def test_json_answers_follow_the_model_and_the_run_preprocessing(folder_run, capsys):
    workdir, root, _ = folder_run
    out = run_json(capsys, "--workdir", workdir, "--all-exits", root / "test")
    records = out["images"]
    assert [r["file"] for r in records] == sorted(r["file"] for r in records)
    assert out["skipped"] == [] and out["num_exits"] == 3
    results = json.loads((workdir / "results.json").read_text())
    assert out["exit_cumulative_flops"] == results["exit_cumulative_flops"]
    # The same images through the run's data pipeline give the same logits.
    from msdnet_tf import data as data_lib
    from msdnet_tf.inference import collect_logits, load_run

    cfg, model = load_run(workdir)
    bundle = data_lib.build_from_config(cfg, workdir)
    logits, labels = collect_logits(model, bundle.eval_dataset("test", 16))
    for n, r in enumerate(records):
        probs = np.exp(logits[2, n] - logits[2, n].max())
        probs /= probs.sum()
        assert r["exit"] == 2 and r["class"] == int(np.argmax(probs))
        assert r["label"] == CLASSES[r["class"]]
        assert r["confidence"] == pytest.approx(float(probs.max()), abs=1e-5)
        assert [t["class"] for t in r["top5"]] == np.argsort(-probs).tolist()[:3]
        assert [e["taken"] for e in r["exits"]] == [False, False, True]
        assert r["exits"][0]["cumulative_flops"] == out["exit_cumulative_flops"][0]


def test_thresholds_q_and_budget_use_the_evaluation_rules(folder_run, capsys, tmp_path):
    workdir, root, _ = folder_run
    from msdnet_tf.inference import model_fingerprint, write_workdir_logits

    fingerprint = model_fingerprint(workdir / "model.keras")
    everyone_first = tmp_path / "t.json"
    ev.save_thresholds(everyone_first, [0.0, 0.0, -np.inf], model=fingerprint)
    out = run_json(capsys, "--workdir", workdir, "--thresholds", everyone_first, root / "test")
    assert {r["exit"] for r in out["images"]} == {0}
    assert {r["cumulative_flops"] for r in out["images"]} == {out["exit_cumulative_flops"][0]}
    foreign = tmp_path / "foreign.json"
    ev.save_thresholds(foreign, [0.0, 0.0, -np.inf], model="0123456789abcdef")
    with pytest.raises(SystemExit) as info:
        predict.main(["--workdir", str(workdir), "--thresholds", str(foreign), str(root)])
    assert info.value.code == 2 and "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --q needs the hold-out logits
        predict.main(["--workdir", str(workdir), "--q", "0.5", str(root / "test")])
    assert "msdnet_tf.evaluate --workdir" in capsys.readouterr().err
    data = ev.load_logits(write_workdir_logits(workdir))
    out = run_json(capsys, "--workdir", workdir, "--q", "0.5", root / "test")
    expected = ev.ThresholdFinder(ev.exit_scores(data.val_logits, data.val_labels).max_prob)
    assert out["thresholds"] == [t if np.isfinite(t) else ("inf" if t > 0 else "-inf")
                                 for t in expected.thresholds(0.5)]
    out = run_json(capsys, "--workdir", workdir, "--budget-flops",
                   data.exit_flops[-1] * 2, root / "test")
    assert "hold-out thresholds for" in out["policy"]


def test_argument_errors_are_one_line(folder_run, capsys, tmp_path):
    workdir, _, _ = folder_run
    for argv, message in ((["--workdir", str(workdir), str(tmp_path / "none.png")],
                           "does not exist"),
                          (["--workdir", str(workdir), "--q", "0", str(tmp_path)],
                           "--q must be > 0"),
                          (["--workdir", str(workdir), "--budget-ms", "3", str(tmp_path)],
                           "--budget-ms needs --latency")):
        with pytest.raises(SystemExit) as info:
            predict.main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert info.value.code == 2 and message in err[-1]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"nope")
    with pytest.raises(SystemExit) as info:
        predict.main(["--workdir", str(workdir), str(bad)])
    assert "none of the 1 file(s) is a readable image" in capsys.readouterr().err


def test_photos_are_fitted_to_a_fixed_size_gray_dataset(tmp_path):
    spec = registry.preprocessing_spec("fashion_mnist", 32)
    photo = write_image(tmp_path / "p", np.random.default_rng(0), KINDS[1], (60, 40))
    (good, image, note), = predict.read_images([photo], spec)[0]
    assert image.shape == (28, 28, 1) and "fitted from 60x40 to the stored 28x28" in note
    assert "made gray" in note
    gray = write_image(tmp_path / "g", np.random.default_rng(0), KINDS[2], (28, 28))
    (_, image, note), = predict.read_images([gray], spec)[0]
    assert image.shape == (28, 28, 1) and note is None


def test_all_exits_in_text_and_the_real_command(folder_run):
    """The command as a user runs it: every exit's answer, the taken one marked, the broken
    JPEG and the non-image listed once each on stderr (nothing else there), exit code 0."""
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.test_cli_startup import clean_env

    workdir, root, made = folder_run
    proc = subprocess.run(
        [sys.executable, "-m", "msdnet_tf.predict", "--workdir", str(workdir), "--all-exits",
         str(root / "train" / "cat"), str(root / "train" / "dog")],
        cwd=REPO, capture_output=True, text=True, env=clean_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.splitlines()
    assert len(err) == 2, err
    assert err[0].startswith("msdnet_tf.predict: skipped ") and "not_an_image.png" in err[0]
    assert "broken.jpg" in err[1]
    lines = proc.stdout.splitlines()
    rows = [i for i, line in enumerate(lines) if "top-5:" in line]
    assert len(rows) == 8  # 4 readable images in each of the two folders
    for i in rows:
        label, confidence = lines[i].split()[1:3]
        assert label in CLASSES and confidence.endswith("%")
        assert 100 / len(CLASSES) <= float(confidence[:-1]) <= 100
        exits = [line for line in lines[i + 1:i + 4] if line.startswith("    exit ")]
        assert [line.split()[1] for line in exits] == ["0:", "1:", "2:"]
        assert exits[-1].endswith("<- taken") and "<- taken" not in exits[0] + exits[1]
    assert lines[-1].startswith("8 image(s): exits [0, 0, 8], mean ")
    assert lines[-1].endswith("skipped 2 unreadable file(s)")

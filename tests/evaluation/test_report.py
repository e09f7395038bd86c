"""Output files, plots, tables and the published curves."""

import json
import struct

import numpy as np
import pytest

from msdnet_tf.evaluation import (
    evaluate_logits, flops_budget, format_anytime_table, format_budget,
    format_budgeted_table, load_thresholds, published_curve, validate_logits, write_outputs,
)
from msdnet_tf.evaluation.published import published_curves, published_table

from .helpers import logits_arrays


@pytest.fixture(scope="module")
def data():
    arrays = logits_arrays(np.random.default_rng(5), num_exits=4, n_val=300, n_test=250)
    return validate_logits(dict(arrays, model=np.asarray("m1")), source="test")


def _png_size(path):
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
    return struct.unpack(">II", raw[16:24])


@pytest.mark.parametrize("dataset", [None, "cifar100", "cifar10", "imagenet", "digits"])
def test_write_outputs(tmp_path, data, dataset):
    result = evaluate_logits(data, num_q=39, top_k=5, budget=flops_budget(6e6, data.exit_flops))
    paths = write_outputs(result, tmp_path, dataset=dataset)
    assert sorted(paths) == ["anytime.json", "anytime.png", "budgeted.json", "budgeted.png",
                             "thresholds.json"]
    for name in ("anytime.png", "budgeted.png"):
        assert _png_size(paths[name]) == (640, 480)
        assert paths[name].stat().st_size > 10_000
    anytime = json.loads(paths["anytime.json"].read_text())
    assert [e["exit"] for e in anytime["exits"]] == [0, 1, 2, 3]
    assert set(anytime["exits"][0]) >= {"exit", "top1", "top5", "cumulative_flops", "cumulative_params"}
    assert anytime["exits"][0]["cumulative_params"] is None
    budgeted = json.loads(paths["budgeted.json"].read_text())
    assert len(budgeted["points"]) == 39
    point = budgeted["points"][0]
    assert point["q"] == 0.05 and point["thresholds"][-1] == "-inf"
    assert set(point) >= {"q", "thresholds", "exit_fractions", "val_accuracy",
                          "test_accuracy", "expected_flops"}
    assert sum(point["exit_fractions"]) == pytest.approx(1.0)
    t = load_thresholds(paths["thresholds.json"], num_exits=4, model="m1")
    assert t.thresholds == result.budget.point.thresholds
    assert t.budget["requested"] == 6e6 and t.budget["achieved_val"] <= 6e6


def test_no_budget_no_thresholds_file(tmp_path, data):
    paths = write_outputs(evaluate_logits(data, num_q=4), tmp_path / "new" / "dir")
    assert "thresholds.json" not in paths and (tmp_path / "new/dir/anytime.png").is_file()
    assert len(json.loads(paths["budgeted.json"].read_text())["points"]) == 4


def test_tables(data):
    result = evaluate_logits(data, num_q=3, top_k=3, budget=flops_budget(1e12, data.exit_flops))
    anytime = format_anytime_table(result)
    assert "exit_3" in anytime and "top-3 %" in anytime and "250 images" in anytime
    lines = format_budgeted_table(result).splitlines()
    assert len(lines) == 3 + 3 and lines[3].split()[0] == "0.05"
    assert "does not bind" in format_budget(result)
    assert format_budget(evaluate_logits(data, num_q=1)) == ""


def test_published_curves():
    c100 = published_curve("cifar100", "anytime")
    assert c100.top1[0] == 61.3 and c100.top1[-1] == 74.1 and len(c100.flops) == 10
    assert c100.flops[0] == 15140452 and c100.complete
    assert published_curve("cifar100", "budgeted").flops == (0.2e8, 0.3e8, 0.5e8)
    assert published_curve("cifar10", "anytime").top1 == (89.5, 93.7)
    assert published_curve("imagenet", "anytime") is published_curve("imagenet2012", "anytime")
    assert published_curve("imagenet2012", "budgeted") is None
    assert published_curve("fashion_mnist", "anytime") is None
    assert published_curve(None, "anytime") is None
    with pytest.raises(ValueError, match="unknown dataset"):
        published_curve("svhn", "anytime")
    for family_curves in published_table().values():
        for curves in family_curves.values():
            for curve in curves.values():
                assert len(curve.flops) == len(curve.top1)
                assert list(curve.flops) == sorted(curve.flops) and "RANet" in curve.source
    assert published_curves("cifar100", "anytime")[0] is c100
    assert published_curves("fashion_mnist", "anytime") == ()


def test_published_cifar100_flops_are_the_reference_counts():
    from ..conftest import reference_json

    counts = reference_json("counts.json")["cifar100_anytime"]["exit_cumulative_flops"]
    assert list(published_curve("cifar100", "anytime").flops) == counts

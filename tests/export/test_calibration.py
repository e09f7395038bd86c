"""int8 calibration and fidelity images go through the shared preprocessing."""

import numpy as np

from msdnet_tf import data as data_lib
from msdnet_tf.export import calibration as cal


def test_calibration_images_are_preprocessed_training_images(exporter):
    bundle = exporter.bundle
    images = cal.calibration_images(bundle, 32)
    indices = cal.calibration_indices(bundle, 32)
    raw = bundle.images("train_eval")[indices]
    expected = data_lib.preprocess_batch("digits", raw, 16)
    np.testing.assert_array_equal(images, expected)
    assert images.shape == (32, 16, 16, 3)
    # Normalised like training: roughly zero mean, unit spread.
    assert abs(float(images.mean())) < 0.5 and 0.5 < float(images.std()) < 2.0


def test_calibration_draws_a_seeded_subset(exporter):
    a = cal.calibration_indices(exporter.bundle, 50)
    assert np.array_equal(a, cal.calibration_indices(exporter.bundle, 50))
    assert len(set(a)) == 50 and np.all(np.diff(a) > 0)
    assert len(cal.calibration_indices(exporter.bundle, 10**6)) == exporter.bundle.count("train")


def test_int8_conversion_calibrates_through_preprocess_batch(exporter, monkeypatch):
    """The exporter's calibration set is produced by data.preprocess_batch, and only by it."""
    calls = []
    real = data_lib.preprocess_batch

    def spy(spec, images, image_size=None):  # the bundle's own spec (dict)
        calls.append((spec["dataset"], len(images), spec["output"]["height"]))
        assert spec == exporter.bundle.preprocessing_spec()
        return real(spec, images, image_size)

    monkeypatch.setattr(data_lib, "preprocess_batch", spy)
    monkeypatch.setattr(exporter, "_calibration", None)
    images = exporter.calibration
    assert calls == [("digits", 64, 16)]
    samples = cal.stage_samples(exporter.model, images[:4])
    assert [name for name, _ in samples[:4]] == ["stage_0"] * 4
    assert set(samples[4][1]) == {"scale_0", "scale_1"}
    np.testing.assert_array_equal(samples[0][1]["image"], images[:1])


def test_fidelity_uses_the_test_split(exporter):
    bundle = exporter.bundle
    images, labels = cal.test_images(bundle, 120)
    np.testing.assert_array_equal(labels, bundle.labels("test")[:120])
    np.testing.assert_array_equal(images, data_lib.preprocess_batch(
        "digits", bundle.images("test")[:120], 16))

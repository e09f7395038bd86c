"""Images for int8 calibration and fidelity, through the shared preprocessing.

Calibration draws training images (the augmentation-free "train_eval" view of
the training split), fidelity the first test images; both go through
`msdnet_tf.data.preprocess_batch`, the one test-time preprocessing that
evaluation and the harness use.
"""

import numpy as np

from msdnet_tf import data as data_lib

CALIBRATION_SEED = 0


def _uint8_split(bundle, split, indices):
    """(uint8 images, labels) of `split` at sorted `indices` (eval order)."""
    if not bundle.streamed:
        return bundle.images(split)[indices], bundle.labels(split)[indices]
    wanted, images, labels = set(int(i) for i in indices), [], []
    for i, (image, label) in enumerate(bundle.raw_dataset(split).take(int(max(indices)) + 1)):
        if i in wanted:
            images.append(image.numpy())
            labels.append(int(label.numpy()))
    return images, np.asarray(labels, np.int64)


def calibration_indices(bundle, n, seed=CALIBRATION_SEED):
    """Sorted indices of `n` training images (all of them when fewer), seeded."""
    total = bundle.count("train_eval")
    n = min(n, total)
    return np.sort(np.random.default_rng(seed).choice(total, n, replace=False))


def calibration_images(bundle, n, seed=CALIBRATION_SEED):
    """float32 [n, S, S, 3]: preprocessed training images for int8 calibration."""
    images, _ = _uint8_split(bundle, "train_eval", calibration_indices(bundle, n, seed))
    return data_lib.preprocess_batch(bundle.spec, images)


def test_images(bundle, n):
    """(float32 [n, S, S, 3], int64 labels [n]): the first n test images, preprocessed."""
    indices = np.arange(min(n, bundle.count("test")))
    images, labels = _uint8_split(bundle, "test", indices)
    return (data_lib.preprocess_batch(bundle.spec, images),
            np.asarray(labels, np.int64))


def exit_samples(images):
    """Calibration samples of an exit file: `[("serving_default", {"image": [1, ...]}), ...]`."""
    return [("serving_default", {"image": x[np.newaxis]}) for x in images]


def stage_samples(model, images, batch_size=64):
    """Calibration samples of every cascade stage.

    Stage 0 sees the images, stage k > 0 the feature maps the Keras stage k - 1
    leaves for them: what the stage receives in deployment with float interfaces.
    """
    stages = model.stage_models()
    samples = []
    for start in range(0, len(images), batch_size):
        feeds = images[start:start + batch_size]
        for k, stage in enumerate(stages):
            batch = {"image": feeds} if k == 0 else feeds
            samples += [(f"stage_{k}", {name: v[i:i + 1] for name, v in batch.items()})
                        for i in range(len(images[start:start + batch_size]))]
            if k < len(stages) - 1:
                out = stage(feeds, training=False)
                feeds = {name: np.asarray(v) for name, v in out.items() if name != "logits"}
    return samples


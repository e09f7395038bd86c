"""One pass over a dataset's images: per-channel mean/std, sizes, and the files that do not decode.

Used by the datasets described by their data (`folder`, `tfds:NAME`). The pass decodes
every image once (tf.data, in parallel) and keeps, per image, its per-channel mean and
mean square in pixel units; the dataset's mean and std weight every image equally
(whatever its size). The result is saved in the run directory (`dataset.json`), so
evaluation, conversion and later runs reuse it instead of reading the images again.
"""

import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from msdnet_tf.data.errors import DataError

DATASET_FILE = "dataset.json"
FORMAT = "msdnet_tf.dataset/1"
# libjpeg's own complaints about broken files: the pass reports those files itself.
LIBJPEG_NOISE = re.compile(
    r"^(?:Corrupt JPEG data|Premature end of JPEG file|Improper call to JPEG library|"
    r"Invalid SOS parameters|Bogus (?:marker|Huffman)|Unsupported marker|"
    r"JPEG datastream contains no image|Not a JPEG file|Huffman table)")
_BATCH = 256


def _image_stats(image):
    import tensorflow as tf

    x = tf.cast(image, tf.float32)
    return (tf.concat([tf.reduce_mean(x, axis=[0, 1]), tf.reduce_mean(tf.square(x), axis=[0, 1])],
                      axis=0), tf.shape(image)[:2])


def scan(dataset, count, label="reading images"):
    """Per-image stats of a tf.data dataset of (int64 index, uint8 [H, W, 3] image).

    Elements whose reading or decoding fails are dropped. Returns (rows float64
    [count, 6]: mean R, G, B, mean square R, G, B, NaN for dropped images; sizes
    int64 [count, 2]: height, width).
    """
    import tensorflow as tf

    from msdnet_tf import _quiet
    from msdnet_tf.progress import Progress

    ds = dataset.map(lambda i, image: (i, *_image_stats(image)),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    ds = ds.ignore_errors(log_warning=False).batch(_BATCH).prefetch(2)
    rows = np.full((count, 6), np.nan)
    sizes = np.zeros((count, 2), np.int64)
    bar = Progress(count, label, stream=sys.stderr, tty=False, final_line=False)
    seen = 0
    with _quiet.filtered_stderr(LIBJPEG_NOISE):
        for index, values, hw in ds.as_numpy_iterator():
            rows[index], sizes[index] = values, hw
            seen += len(index)
            bar.update(min(seen, count))
    return rows, sizes


def scan_files(paths, label="reading images"):
    """`scan` of image files: (rows, sizes, {index: reason} of the files that do not decode)."""
    import tensorflow as tf

    from msdnet_tf.data import images

    if not len(paths):
        return np.zeros((0, 6)), np.zeros((0, 2), np.int64), {}
    ds = tf.data.Dataset.from_tensor_slices(
        (np.arange(len(paths), dtype=np.int64), np.asarray(paths, dtype=object).astype(str)))
    ds = ds.map(lambda i, p: (i, images.decode_tensor(tf.io.read_file(p))),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    from msdnet_tf import _quiet

    rows, sizes = scan(ds, len(paths), label)
    bad = {}
    with _quiet.filtered_stderr(LIBJPEG_NOISE):  # the reasons, for the files that failed
        for i in np.flatnonzero(np.isnan(rows[:, 0])):
            try:
                images.decode_file(paths[i])
                bad[int(i)] = "could not be decoded"
            except ValueError as e:
                bad[int(i)] = str(e)
    return rows, sizes, bad


def mean_std(rows):
    """(mean, std) per channel in [0, 1] units from `scan` rows (every image weighs the same)."""
    rows = rows[~np.isnan(rows[:, 0])]
    if not len(rows):
        raise DataError("no readable training images to compute the mean and std from")
    mean = rows[:, :3].mean(axis=0)
    var = np.maximum(rows[:, 3:].mean(axis=0) - mean ** 2, 0.0)
    std = np.maximum(np.sqrt(var), 1.0)  # a constant channel: std 1/255, not 0
    return [round(float(m) / 255.0, 6) for m in mean], [round(float(s) / 255.0, 6) for s in std]


def report_skipped(skipped, where):
    """Says once, on stderr, which files were skipped and why."""
    if not skipped:
        return
    lines = [f"skipped {len(skipped)} file(s) that are not readable images (listed in {where}):"]
    lines += [f"  {item['file']}: {item['error']}" for item in skipped[:20]]
    if len(skipped) > 20:
        lines.append(f"  ... and {len(skipped) - 20} more")
    print("\n".join(lines), file=sys.stderr, flush=True)


def info_from_record(record, holdout_default=0):
    """The `registry.DatasetInfo` a saved record describes (classes, mean/std, input size)."""
    from msdnet_tf.data import registry

    native = record.get("native_size")
    classes = tuple(record["classes"])
    return registry.DatasetInfo(record["dataset"], len(classes), 3,
                                tuple(native) if native else None, tuple(record["mean"]),
                                tuple(record["std"]), holdout_default, classes)


def read_record(workdir):
    """The saved dataset.json of `workdir`, or None."""
    if workdir is None:
        return None
    path = Path(workdir) / DATASET_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        if record.get("format") != FORMAT:
            raise ValueError(f"format {record.get('format')!r}")
    except (ValueError, OSError) as e:
        raise DataError(f"{path} is not a valid dataset record ({e}); delete it to read the "
                        "data again") from None
    return record


def write_record(workdir, record):
    if workdir is None:
        return None
    path = Path(workdir) / DATASET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"format": FORMAT, **record}, indent=1) + "\n")
    os.replace(tmp, path)
    return path

"""Images for the cascade: a dataset split, or image files checked against the manifest."""

import dataclasses
from pathlib import Path

import numpy as np

from msdnet_tf.cli import UserError

_CHANNELS = {"L": 1, "RGB": 3}


@dataclasses.dataclass
class Item:
    index: int
    name: str
    image: np.ndarray | None  # uint8 HWC
    label: int | None = None
    error: str | None = None


def from_dataset(manifest, dataset, split, limit=0, workdir=None):
    """Items of a dataset split, through the same loaders as training."""
    from msdnet_tf import config as config_lib
    from msdnet_tf import data as data_lib

    expected = manifest["preprocessing"]["dataset"]
    if dataset != expected:
        raise UserError(f"the model was trained on {expected}; --dataset {dataset} would feed it "
                        "images it was not trained for")
    source = manifest.get("source") or {}
    cfg = config_lib.from_dict(source["config"]) if source.get("config") else config_lib.Config()
    cfg.data.dataset = dataset
    workdir = workdir or source.get("workdir")
    if split == "val" and not (workdir and (Path(workdir) / "holdout.json").is_file()):
        raise UserError("--split val needs the run's holdout.json: pass --workdir DIR")
    # A dataset described by its data reuses the run's dataset.json (classes, mean/std).
    keep_workdir = split == "val" or (workdir and (Path(workdir) / "dataset.json").is_file())
    bundle = data_lib.build(cfg.data, manifest["input"]["shape"][1],
                            workdir if keep_workdir else None)
    if bundle.streamed:  # read from files (ImageNet, folder, tfds:NAME), in eval order
        ds = bundle.raw_dataset(split)
        pairs = [(image, int(y)) for image, y in (ds.take(limit) if limit else ds)
                 .as_numpy_iterator()]
        return [Item(i, f"{split}[{i}]", img, y) for i, (img, y) in enumerate(pairs)]
    images, labels = bundle.images(split), bundle.labels(split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return [Item(i, f"{split}[{i}]", img, int(y)) for i, (img, y) in enumerate(zip(images, labels))]


def _read_image(path, spec):
    from PIL import Image, UnidentifiedImageError

    from msdnet_tf.data import images

    if spec["input"]["channels"] == 3:  # any format and mode, as training reads files
        array = images.decode_file(path)
        h, w = spec["input"]["height"], spec["input"]["width"]
        if h is not None and array.shape[:2] != (h, w):
            raise ValueError(f"is {array.shape[1]}x{array.shape[0]}; the model takes {w}x{h} "
                             "images")
        return array
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            array = np.asarray(img)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ValueError(f"unreadable image ({e.__class__.__name__}: {e})") from None
    except Exception as e:  # noqa: BLE001 - e.g. DecompressionBombError: refused, not fatal
        raise ValueError(f"refused ({e.__class__.__name__}: {e})") from None
    want = spec["input"]["channels"]
    if _CHANNELS.get(mode) != want:
        raise ValueError(f"has mode {mode}; the model takes {'gray (L)' if want == 1 else 'RGB'} "
                         "images")
    h, w = spec["input"]["height"], spec["input"]["width"]
    if h is not None and array.shape[:2] != (h, w):
        raise ValueError(f"is {array.shape[1]}x{array.shape[0]}; the model takes {w}x{h} images")
    return array


def from_files(manifest, path):
    """Items of an image file or a folder of image files; bad files carry an error."""
    from msdnet_tf.data import images

    path = Path(path)
    if path.is_dir():
        try:
            files = sorted(p for p in path.iterdir() if images.is_image_name(p.name))
        except OSError as e:
            raise UserError(f"--images {path} cannot be listed ({e.strerror or e})") from None
        if not files:
            raise UserError(f"no image files ({', '.join(images.IMAGE_EXTENSIONS)}) in {path}")
    elif path.is_file():
        files = [path]
    else:
        raise UserError(f"--images {path} does not exist")
    items = []
    for i, f in enumerate(files):
        try:
            items.append(Item(i, str(f), _read_image(f, manifest["preprocessing"])))
        except ValueError as e:
            items.append(Item(i, str(f), None, error=f"{f}: {e}"))
    return items


def preprocess(manifest, items):
    """float32 [N, S, S, 3] model inputs of the good items (the training preprocessing)."""
    from msdnet_tf.data import preprocess_batch

    good = [it.image for it in items if it.error is None]
    if not good:
        return np.zeros((0,) + tuple(manifest["input"]["shape"][1:]), np.float32)
    return np.asarray(preprocess_batch(manifest["preprocessing"], good), np.float32)

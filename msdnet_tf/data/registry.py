"""What msdnet_tf knows about each dataset, and the rule that feeds it to the model.

Pure Python (no TensorFlow): the TFLite manifest and the Android demo read the
same `preprocessing_spec` that `msdnet_tf.data.preprocess` executes, so the
rule is written down once, as data.

The model always takes `image_size x image_size x 3` float32 NHWC. Every
geometric step runs in pixel space (float32 values 0..255, zero padding = black),
then `out = (pixel * pixel_scale - mean) / std` per channel.

Besides the datasets listed in `DATASETS`, two kinds are described by their data:
`folder` (`data.image_folder`) and `tfds:NAME` (any prepared tensorflow-datasets
dataset). Their class names, mean and std come from the data (`msdnet_tf.data.folder`,
`msdnet_tf.data.tfds_named`), so their spec needs the `DatasetInfo` the loader made.

The training augmentation follows `data.augment`: `cifar` (zero pad, random crop,
horizontal flip), `imagenet` (random resized crop, horizontal flip), `none`, or
`default` (the dataset's own recipe; true/false in older configs mean default/none).
"""

import copy
import dataclasses
import functools
import importlib.util
from pathlib import Path

from msdnet_tf.data.errors import DataError

PIXEL_SCALE = 1.0 / 255.0

CIFAR10_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                  "ship", "truck")
# CIFAR-100 fine labels, in the order of the archive's fine_label_names.txt.
CIFAR100_LABELS = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch
crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo
keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse
mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper
snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television
tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm
""".split())
FASHION_MNIST_LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                        "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset.

    `native_size` is (height, width) of the stored images, None when they vary
    (ImageNet). `mean`/`std` are per output channel, in [0, 1] pixel units.
    `label_names` is None when it must be read at run time (ImageNet).
    """

    name: str
    num_classes: int
    channels: int
    native_size: tuple | None
    mean: tuple
    std: tuple
    holdout_default: int
    label_names: tuple | None
    test_split_name: str = "test"


DATASETS = {
    "cifar10": DatasetInfo("cifar10", 10, 3, (32, 32), (0.4914, 0.4824, 0.4467),
                           (0.2471, 0.2435, 0.2616), 5000, CIFAR10_LABELS),
    "cifar100": DatasetInfo("cifar100", 100, 3, (32, 32), (0.5071, 0.4867, 0.4408),
                            (0.2675, 0.2565, 0.2761), 5000, CIFAR100_LABELS),
    "imagenet2012": DatasetInfo("imagenet2012", 1000, 3, None, (0.485, 0.456, 0.406),
                                (0.229, 0.224, 0.225), 50000, None, "validation"),
    "fashion_mnist": DatasetInfo("fashion_mnist", 10, 1, (28, 28), (0.2860,) * 3,
                                 (0.3530,) * 3, 5000, FASHION_MNIST_LABELS),
    # Digits are stored as 0..16; msdnet_tf rescales them to 0..255 on load.
    # Mean/std of all 1,797 rescaled images (nearest resizing keeps them).
    "digits": DatasetInfo("digits", 10, 1, (8, 8), (0.3053,) * 3, (0.3759,) * 3, 300,
                          tuple(str(d) for d in range(10))),
}

# ImageNet test-time rule: resize the shorter side to 256 then centre-crop 224,
# both scaled by image_size / 224.
IMAGENET_RESIZE, IMAGENET_CROP = 256, 224
# CIFAR recipe: 4-pixel zero pad + random crop back to 32x32 + horizontal flip.
RANDOM_CROP_PAD = 4
RRC_AREA_RANGE, RRC_ASPECT_RANGE = (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0)


FOLDER = "folder"
TFDS_PREFIX = "tfds:"
AUGMENT_RULES = ("default", "cifar", "imagenet", "none")
# The recipes of the listed datasets (digits: no augmentation).
DEFAULT_AUGMENT = {"cifar10": "cifar", "cifar100": "cifar", "imagenet2012": "imagenet",
                   "fashion_mnist": "cifar", "digits": "none"}
# Datasets described by their data: up to this input size the CIFAR recipe and a plain
# resize, above it the ImageNet recipe and shorter-side resize + centre crop.
SMALL_IMAGE_SIZE = 64


def is_dynamic(dataset):
    """True for `folder` and `tfds:NAME`, whose classes and statistics come from the data."""
    return dataset == FOLDER or (isinstance(dataset, str) and dataset.startswith(TFDS_PREFIX)
                                 and len(dataset) > len(TFDS_PREFIX))


def dataset_names_help():
    return f"{', '.join(DATASETS)}, {FOLDER} (with data.image_folder) or {TFDS_PREFIX}NAME"


def check_dataset_name(dataset):
    """DataError unless `dataset` is listed, `folder` or `tfds:NAME`."""
    if dataset not in DATASETS and not is_dynamic(dataset):
        raise DataError(f"unknown dataset; set data.dataset to one of "
                        f"{dataset_names_help()}. Received: data.dataset={dataset!r}")


def get_info(dataset, info=None):
    """The `DatasetInfo` of `dataset`; DataError naming the valid names otherwise.

    For `folder` and `tfds:NAME` pass the `info` their loader made (it is returned).
    """
    if info is not None:
        return info
    check_dataset_name(dataset)
    if is_dynamic(dataset):
        raise DataError(f"{dataset}: its classes, mean and std come from the data; build the "
                        "data (msdnet_tf.data.build) and use bundle.info / "
                        "bundle.preprocessing_spec()")
    return DATASETS[dataset]


def augment_rule(dataset, image_size, augment="default"):
    """The concrete training augmentation (`cifar`, `imagenet` or `none`) for `augment`."""
    if augment is True:
        augment = "default"
    elif augment is False:
        augment = "none"
    if augment not in AUGMENT_RULES:
        raise DataError(f"data.augment must be one of {', '.join(AUGMENT_RULES)}. "
                        f"Received: data.augment={augment!r}")
    if augment != "default":
        return augment
    if dataset in DEFAULT_AUGMENT:
        return DEFAULT_AUGMENT[dataset]
    return "cifar" if image_size <= SMALL_IMAGE_SIZE else "imagenet"


def imagenet_synsets():
    """The 1,000 ImageNet synset ids in tfds label order, or None if tfds is absent.

    Read from the file tfds ships, located without importing tfds.
    """
    spec = importlib.util.find_spec("tensorflow_datasets")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], "datasets", "imagenet2012",
                "labels.txt")
    if not path.is_file():
        return None
    return tuple(path.read_text().split())


def label_names(dataset):
    """Class names in label-id order (ImageNet: synset ids), or None if unknown."""
    if is_dynamic(dataset):
        return None  # From the data: DataBundle.label_names.
    info = get_info(dataset)
    return info.label_names if info.label_names is not None else imagenet_synsets()


def _resize(size, method):
    return {"op": "resize", "height": size, "width": size, "method": method,
            "antialias": method == "bilinear"}


def _flip():
    return {"op": "random_flip_left_right"}


def _small_image_ops(info, image_size, training):
    """Ops for the fixed-size datasets (CIFAR, Fashion-MNIST, digits)."""
    ops = [{"op": "gray_to_rgb"}] if info.channels == 1 else []
    side = info.native_size[0]
    if info.name == "fashion_mnist":  # 28x28 -> 32x32, as the CIFAR-style stem expects.
        ops.append({"op": "pad", "pixels": 2, "value": 0})
        side = 32
    if training and info.name != "digits":  # digits: no augmentation.
        ops += [{"op": "pad", "pixels": RANDOM_CROP_PAD, "value": 0},
                {"op": "random_crop", "height": side, "width": side}, _flip()]
    if image_size != side:
        ops.append(_resize(image_size, "nearest" if info.name == "digits" else "bilinear"))
    return ops


def _imagenet_ops(image_size, training):
    if training:
        return [{"op": "random_resized_crop", "height": image_size, "width": image_size,
                 "area_range": list(RRC_AREA_RANGE), "aspect_ratio_range": list(RRC_ASPECT_RANGE),
                 "max_attempts": 10, "method": "bilinear", "antialias": True}, _flip()]
    shorter = int(round(IMAGENET_RESIZE * image_size / IMAGENET_CROP))
    return [{"op": "resize_shorter_side", "size": shorter, "method": "bilinear",
             "antialias": True, "longer_side": "floor(size * longer / shorter)"},
            {"op": "center_crop", "height": image_size, "width": image_size,
             "offset": "round_half_even((side - crop) / 2)"}]


def _geometry_ops(image_size):
    """Test-time ops of the datasets described by their data (any input size)."""
    if image_size <= SMALL_IMAGE_SIZE:
        return [_resize(image_size, "bilinear")]
    return _imagenet_ops(image_size, False)


def _augmented(ops, rule, image_size):
    """Training ops: the test-time `ops`, augmented by `rule` (cifar, imagenet or none)."""
    if rule == "none":
        return copy.deepcopy(ops)
    if rule == "imagenet":  # Colour/padding prefix, then a random resized crop.
        geometric = ("resize", "resize_shorter_side", "center_crop")
        prefix = [op for op in ops if op["op"] not in geometric]
        return prefix + _imagenet_ops(image_size, True)
    pad = max(1, round(RANDOM_CROP_PAD * image_size / 32))
    return copy.deepcopy(ops) + [{"op": "pad", "pixels": pad, "value": 0},
                                 {"op": "random_crop", "height": image_size,
                                  "width": image_size}, _flip()]


def _check_size(image_size):
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"model.image_size must be a positive integer. "
                        f"Received: model.image_size={image_size!r}")


@functools.lru_cache(maxsize=None)
def _spec(dataset, image_size, augment="default", info=None):
    info = get_info(dataset, info)
    _check_size(image_size)
    rule = augment_rule(dataset, image_size, augment)
    if is_dynamic(dataset):
        ops = _geometry_ops(image_size)
        train_ops = _augmented(ops, rule, image_size)
    elif info.native_size is None:
        ops = _imagenet_ops(image_size, False)
        train_ops = (_imagenet_ops(image_size, True) if rule == "imagenet"
                     else _augmented(ops, rule, image_size))
    else:
        ops = _small_image_ops(info, image_size, False)
        if rule == DEFAULT_AUGMENT[dataset]:  # The recipe as published (or none for digits).
            train_ops = _small_image_ops(info, image_size, True)
        else:
            train_ops = _augmented(ops, rule, image_size)
    height, width = info.native_size or (None, None)
    return {
        "dataset": dataset,
        "input": {"dtype": "uint8", "layout": "HWC", "height": height, "width": width,
                  "channels": info.channels},
        "output": {"dtype": "float32", "layout": "NHWC", "height": image_size,
                   "width": image_size, "channels": 3},
        "channels_in": info.channels,
        "channels_out": 3,
        "ops": ops,
        "train_ops": train_ops,
        "pixel_scale": PIXEL_SCALE,
        "mean": list(info.mean),
        "std": list(info.std),
        "normalization": "out = (pixel * pixel_scale - mean) / std, per channel, after ops",
    }


def preprocessing_spec(dataset, image_size, augment="default", info=None):
    """The test-time (`ops`) and training (`train_ops`) rule of `dataset`, as a dict.

    `augment`: `data.augment` (see the module doc); `info`: the `DatasetInfo` of a
    `folder` / `tfds:NAME` dataset (from its loader; `DataBundle.preprocessing_spec()`).

    Keys: dataset, input/output (dtype, layout, size, channels), channels_in,
    channels_out, ops and train_ops (ordered lists of `{"op": name, ...}` applied
    in pixel space), pixel_scale (1/255), mean, std. Op names: gray_to_rgb, pad
    (pixels on every side, value), resize (height, width, method, antialias),
    resize_shorter_side, center_crop, random_crop, random_flip_left_right,
    random_resized_crop. JSON-serialisable; a fresh copy on every call.
    """
    if isinstance(augment, bool):
        augment = "default" if augment else "none"
    return copy.deepcopy(_spec(dataset, image_size, augment, info))

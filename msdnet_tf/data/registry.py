"""What msdnet_tf knows about each dataset, and the rule that feeds it to the model.

Pure Python (no TensorFlow): the TFLite manifest and the Android demo read the
same `preprocessing_spec` that `msdnet_tf.data.preprocess` executes, so the
rule is written down once, as data.

The model always takes `image_size x image_size x 3` float32 NHWC. Every
geometric step runs in pixel space (float32 values 0..255, zero padding = black),
then `out = (pixel * pixel_scale - mean) / std` per channel.
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


def get_info(dataset):
    """The `DatasetInfo` of `dataset`; DataError naming the valid names otherwise."""
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset; set data.dataset to one of {', '.join(DATASETS)}. "
                        f"Received: data.dataset={dataset!r}")
    return DATASETS[dataset]


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


@functools.lru_cache(maxsize=None)
def _spec(dataset, image_size):
    info = get_info(dataset)
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"model.image_size must be a positive integer. "
                        f"Received: model.image_size={image_size!r}")
    if info.native_size is None:
        ops, train_ops = _imagenet_ops(image_size, False), _imagenet_ops(image_size, True)
    else:
        ops = _small_image_ops(info, image_size, False)
        train_ops = _small_image_ops(info, image_size, True)
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


def preprocessing_spec(dataset, image_size):
    """The test-time (`ops`) and training (`train_ops`) rule of `dataset`, as a dict.

    Keys: dataset, input/output (dtype, layout, size, channels), channels_in,
    channels_out, ops and train_ops (ordered lists of `{"op": name, ...}` applied
    in pixel space), pixel_scale (1/255), mean, std. Op names: gray_to_rgb, pad
    (pixels on every side, value), resize (height, width, method, antialias),
    resize_shorter_side, center_crop, random_crop, random_flip_left_right,
    random_resized_crop. JSON-serialisable; a fresh copy on every call.
    """
    return copy.deepcopy(_spec(dataset, image_size))

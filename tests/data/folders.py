"""Small image folders written by the tests: every format, mode and size a user may have."""

import io
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("cat", "dog", "zebra")


def _image(rng, mode, size):
    w, h = size
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16))
    rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8))
    return rgb if mode == "RGB" else rgb.convert(mode)


# (file name ending, PIL format, mode): PNG and JPEG in every mode, then the other formats.
KINDS = [(".png", "PNG", "RGB"), (".jpg", "JPEG", "RGB"), (".png", "PNG", "L"),
         (".png", "PNG", "RGBA"), (".png", "PNG", "I;16"), (".jpeg", "JPEG", "L"),
         (".png", "PNG", "P"), (".bmp", "BMP", "RGB"), (".gif", "GIF", "P"),
         (".webp", "WEBP", "RGB"), (".tif", "TIFF", "RGB"), (".JPG", "JPEG", "CMYK")]


def write_image(path, rng, kind, size):
    ext, fmt, mode = kind
    path = Path(path).with_suffix(ext)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    _image(rng, mode, size).save(buffer, fmt)
    path.write_bytes(buffer.getvalue())
    return path


def write_folder(root, train_per_class=4, test_per_class=2, with_test=True, corrupt=True,
                 seed=0):
    """ROOT/train/<class>/* (and ROOT/test/<class>/*) of mixed formats, modes and sizes.

    Returns {"classes", "corrupt": [relative paths of the broken files], "train", "test":
    counts of readable images}. Also drops a notes.txt and a .hidden.png (ignored).
    """
    root, rng = Path(root), np.random.default_rng(seed)
    k = 0
    counts = {"train": 0, "test": 0}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        if split == "test" and not with_test:
            continue
        for name in CLASSES:
            for i in range(per_class):
                size = (int(rng.integers(9, 41)), int(rng.integers(9, 41)))
                write_image(root / split / name / f"img_{i}", rng, KINDS[k % len(KINDS)], size)
                k += 1
                counts[split] += 1
    broken = []
    if corrupt:
        bad = root / "train" / "dog" / "broken.jpg"
        good = write_image(root / "tmp_good", rng, KINDS[1], (20, 20))
        bad.write_bytes(good.read_bytes()[:100])  # truncated JPEG
        good.unlink()
        (root / "train" / "cat" / "not_an_image.png").write_bytes(b"hello, not a PNG")
        broken = ["train/cat/not_an_image.png", "train/dog/broken.jpg"]
    (root / "train" / "cat" / "notes.txt").write_text("ignored: not an image name")
    (root / "train" / "cat" / ".hidden.png").write_bytes(b"ignored: hidden")
    return {"classes": list(CLASSES), "corrupt": broken, **counts}

"""Writes an image folder (train/<class>/, test/<class>/) from Fashion-MNIST, for trying
`data.dataset: folder` offline on real images.

    python benchmarks/make_image_folder.py --out /tmp/fashion_folder --train 600 --test 100

Takes the first N training and M test images of each class from the Debian package files
(/usr/share/datasets/fashion-mnist), upsampled to 40x40 RGB, every third one a JPEG, the
others PNG; class folders are the class names ("T-shirt/top" becomes "T-shirt_top").
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msdnet_tf.data import registry, sources  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=600, help="training images per class")
    p.add_argument("--test", type=int, default=100, help="test images per class")
    args = p.parse_args()
    folder = sources.fashion_mnist_dir("")
    if folder is None:
        raise SystemExit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist")
    data = sources.load_fashion_mnist_idx(folder)
    names = [n.replace("/", "_") for n in registry.FASHION_MNIST_LABELS]
    out = Path(args.out)
    for split, x, y, per_class in (("train", data.train_x, data.train_y, args.train),
                                   ("test", data.test_x, data.test_y, args.test)):
        for label, name in enumerate(names):
            target = out / split / name
            target.mkdir(parents=True, exist_ok=True)
            for n, i in enumerate(np.flatnonzero(y == label)[:per_class]):
                image = Image.fromarray(x[i][..., 0]).resize((40, 40), Image.BILINEAR)
                image = image.convert("RGB")
                if n % 3 == 0:
                    image.save(target / f"{i:05d}.jpg", quality=95)
                else:
                    image.save(target / f"{i:05d}.png")
    print(f"wrote {out}: {len(names)} classes, {args.train} train and {args.test} test "
          "images per class")


if __name__ == "__main__":
    main()

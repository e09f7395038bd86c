"""msdnet_tf: early-exit image classifiers (MSDNet, Huang et al., ICLR 2018, and the
networks that grew from it, such as RANet, Yang et al., CVPR 2020) in TensorFlow/Keras 3,
with TFLite early exit.

`import msdnet_tf` does not import TensorFlow. Every model family's Keras class is
registered with Keras as soon as Keras is imported (or at once if it already is), so a
saved `.keras` model loads with `keras.models.load_model` after `import msdnet_tf`.
`msdnet_tf.MSDNet` and `msdnet_tf.RANet` import Keras on first use.
"""

__version__ = "0.1.0"

from msdnet_tf import _registration  # noqa: E402

_registration.install()

__all__ = ["MSDNet", "RANet", "__version__"]


def __getattr__(name):
    if name in ("MSDNet", "RANet"):
        from msdnet_tf import models

        return getattr(models, name)
    raise AttributeError(f"module 'msdnet_tf' has no attribute {name!r}")

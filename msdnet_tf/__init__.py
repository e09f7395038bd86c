"""msdnet_tf: early-exit image classifiers (MSDNet, Huang et al., ICLR 2018, and the
networks that grew from it, such as RANet, Yang et al., CVPR 2020) in TensorFlow/Keras 3,
with TFLite early exit.

Importing the package registers every model family's Keras class, so a saved
`.keras` model loads with `keras.models.load_model` after `import msdnet_tf`.
"""

__version__ = "0.1.0"

from msdnet_tf.models import MSDNet, RANet, register_all  # noqa: E402

register_all()

__all__ = ["MSDNet", "RANet", "__version__"]

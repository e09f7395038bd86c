"""msdnet_tf: early-exit image classifiers (MSDNet, Huang et al., ICLR 2018, and the
networks that grew from it) in TensorFlow/Keras 3, with TFLite early exit.

Importing the package registers every model family's Keras class, so a saved
`.keras` model loads with `keras.models.load_model` after `import msdnet_tf`.
"""

__version__ = "0.1.0"

from msdnet_tf.models import MSDNet, register_all  # noqa: E402

register_all()

__all__ = ["MSDNet", "__version__"]

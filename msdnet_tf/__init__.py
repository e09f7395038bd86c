"""msdnet_tf: Multi-Scale Dense Networks (Huang et al., ICLR 2018) in TensorFlow/Keras 3.

Importing the package registers `MSDNet` with Keras, so a saved `.keras`
model loads with `keras.models.load_model` after `import msdnet_tf`.
"""

__version__ = "0.1.0"

from msdnet_tf.models import MSDNet  # noqa: E402  registers the class with Keras

__all__ = ["MSDNet", "__version__"]

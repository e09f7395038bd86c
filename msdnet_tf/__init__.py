"""msdnet_tf: Multi-Scale Dense Networks (Huang et al., ICLR 2018) in TensorFlow/Keras 3.

Importing the package registers `MSDNet` for `keras.models.load_model`.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that pure-Python modules (config, architecture, evaluation) load
    # without TensorFlow.
    if name == "MSDNet":
        from msdnet_tf.models import MSDNet

        return MSDNet
    raise AttributeError(name)

"""msdnet_tf: Multi-Scale Dense Networks in TensorFlow/Keras 3, with TFLite early exit."""

from setuptools import find_packages, setup

setup(
    name="msdnet_tf",
    version="0.1.0",
    description="MSDNet (Huang et al., ICLR 2018) in Keras 3: exact to the paper, "
                "trained under tf.distribute, deployed as cascaded early exit on TFLite",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["msdnet_tf", "msdnet_tf.*"]),
    install_requires=[
        # The stack is pinned: TFLite conversion and LiteRT behaviour differ across releases.
        "tensorflow==2.21.0",
        "keras==3.15.1",
        "ai-edge-litert==2.3.0",
        "tensorboard>=2.20,<3",  # tf.summary scalars; not a dependency of tensorflow 2.21
        "tensorflow-datasets==4.9.10",
        "importlib_resources>=6",  # needed by tensorflow-datasets, not pulled in by it
        "numpy>=2.0,<2.5",
        "absl-py>=1.4,<3",  # tensorflow-model-optimization 0.8.1 ([qat]) pins absl-py~=1.2
        "pyyaml>=6.0,<7",
        "matplotlib>=3.8,<4",
        "scikit-learn>=1.4,<2",  # the bundled `digits` data set
    ],
    extras_require={
        "dev": ["pytest>=8,<10", "pytest-xdist>=3.5,<4"],
        # Quantisation-aware training runs on tf_keras (Keras 2), in its own process.
        "qat": ["tf-keras==2.21.0", "tensorflow-model-optimization==0.8.1"],
        # Reading .pth checkpoints of the PyTorch port.
        "torch": ["torch==2.13.0"],
    },
)

"""RANet (Yang et al., CVPR 2020): plan, Keras model, reference-weight map, published curves."""

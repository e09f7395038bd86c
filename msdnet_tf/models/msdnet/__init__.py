"""MSDNet (Huang et al., ICLR 2018): plan, Keras model, reference-weight map, published curves."""

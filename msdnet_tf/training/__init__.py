"""Multi-exit training of MSDNet under tf.distribute."""

"""Training a style model: data sampling, losses and the training loop."""

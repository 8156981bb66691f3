"""Models: .nam files and their players, training, verification, and parametric models."""

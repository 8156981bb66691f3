"""NAM Capture Station: calibrated Neural Amp Modeler captures on the bench."""

__version__ = "0.1.0"

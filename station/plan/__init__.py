"""Capture plans: which knob settings to capture, by experimental design, and in what order."""

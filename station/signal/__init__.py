"""Signal math, pure numpy/scipy: levels, test stimuli, guitar-like material, fits, latency."""

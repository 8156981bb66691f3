"""Real drivers behind small Protocols: audio (sounddevice), voltmeters, the serial servo rig."""

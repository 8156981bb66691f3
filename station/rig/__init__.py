"""The servo rig on the station side: rig profiles, knob calibration, motion time."""

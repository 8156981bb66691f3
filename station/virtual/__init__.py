"""The virtual rig: a simulated interface, gear, meter and servo firmware, physically linked."""

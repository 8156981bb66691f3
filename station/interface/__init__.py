"""Interface calibration: its procedure, the takes it plays, profiles and the spec table."""

"""Hardware drivers and their simulated twins, behind small Protocols."""

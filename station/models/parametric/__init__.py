"""Models from a sweep session: a knob-conditioned model and a bank of snapshots.

`session` reads a sweep (numpy only); `nam_ext` is the torch side (NAM's
registries, the `train` extra) and is imported only when training or running
a parametric model; `training`, `report` and `verify` are the procedures.
"""

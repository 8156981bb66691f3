"""NAM's C++ core (the players' loader) as a test host: tests/namcore/core.py builds and runs it."""

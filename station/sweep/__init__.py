"""Sweeps: a plan's settings captured one after another, journalled, resumable, exported."""

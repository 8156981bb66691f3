"""Reamp files: NAM's layouts and recognising them, and the station's own v3-layout signal."""

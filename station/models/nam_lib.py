"""neural-amp-modeler, the `train` extra: whether it is installed, said in one clear line."""

from __future__ import annotations

from ..errors import StationError


def require_nam() -> None:
    """Raise a clear StationError when neural-amp-modeler is not installed."""
    try:
        import nam  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise StationError(
            "training needs neural-amp-modeler, which is not installed",
            "pip install torch==2.13.0, then pip install -e '.[train]'",
        ) from None

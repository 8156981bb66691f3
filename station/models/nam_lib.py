"""neural-amp-modeler, the `train` extra: whether it is installed, said in one clear line."""

from __future__ import annotations

from typing import Any

from ..errors import StationError
from ..phrases import Phrase


def require_nam(need: str = "training needs neural-amp-modeler, which is not installed") -> None:
    """Raise a clear StationError (`need`, and how to install it) when neural-amp-modeler is
    not installed."""
    if not installed():
        raise StationError(need, "pip install torch==2.13.0, then pip install -e '.[train]'")


def check_trainer_options(options: dict[str, Any] | None) -> None:
    """StationError, in one line, when Lightning cannot train with these trainer options.

    Lightning only checks `accelerator`, `devices` and `strategy` when it builds its trainer,
    deep inside NAM, and then raises its own exceptions; building one here first turns an
    unknown name or a missing GPU into an error the user can act on before anything runs.
    """
    given = {k: v for k, v in (options or {}).items() if v is not None}
    if not given:
        return
    import pytorch_lightning as pl

    try:
        pl.Trainer(
            **given,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
    except Exception as exc:  # Lightning raises ValueError, MisconfigurationException, ...
        said = ", ".join(f"{k}={v}" for k, v in given.items())
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StationError(
            f"the trainer cannot run with {said}: {reason}",
            Phrase("leave out {trainer_devices} to let it choose (the CPU when there is no GPU)"),
        ) from None


def installed() -> bool:
    """True when neural-amp-modeler (and torch) can be imported."""
    try:
        import nam  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def standard_net(data: dict[str, Any]) -> Any:
    """NAM's torch net (in eval mode) for a standard model file's parsed data; the classic
    files the station writes (snapshots) get the nested heads 0.13's loader requires.
    Raises StationError when NAM cannot build it."""
    from nam.models import init_from_nam

    from .wavenet import with_nested_heads

    try:
        net = init_from_nam(with_nested_heads(data))
    except Exception as exc:  # NAM raises KeyError, ValueError, ... for a file it cannot build
        raise StationError(
            f"NAM's loader cannot build this {data.get('architecture')} model: {exc}",
            "give a WaveNet, LSTM or Linear model file",
        ) from None
    net.eval()
    return net


def run_standard(data: dict[str, Any], x: Any) -> Any:
    """A standard model's output (float64 array) for the input samples `x`."""
    import numpy as np
    import torch

    net = standard_net(data)
    with torch.no_grad():
        y = net(torch.from_numpy(np.asarray(x, dtype=np.float32)), pad_start=True)
    return y.cpu().numpy().astype(np.float64)


def loudness_and_gain(data: dict[str, Any]) -> tuple[float, float] | None:
    """NAM's own `loudness` (dB) and `gain` (0…1) metadata for a one-input model file,
    measured the way its exporter does; None where neural-amp-modeler is not installed."""
    if not installed():
        return None
    import torch

    net = standard_net(data)
    with torch.no_grad():
        return float(net._metadata_loudness()), float(net._metadata_gain())

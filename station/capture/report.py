"""The capture report picture: blip alignment, validation level over time, noise spectrum."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal

from ..reamp import files as reamp
from ..signal.latency import LatencyDecision


def _level_curve(x: np.ndarray, sr: int, window_s: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    n = int(window_s * sr)
    frames = len(x) // n
    blocks = np.asarray(x[: frames * n], dtype=np.float64).reshape(frames, n)
    rms = np.sqrt(np.mean(blocks**2, axis=1))
    return np.arange(frames) * window_s, 20 * np.log10(np.maximum(rms, 1e-9) * np.sqrt(2))


FIG_WIDTH_IN = 10.0


def fitted(text: str, fontsize: float, width_in: float = FIG_WIDTH_IN) -> str:
    """`text` wrapped (each of its lines) to what `width_in` inches hold at `fontsize` points:
    a long title is folded onto more lines instead of being cut at the picture's edges."""
    chars = max(20, int(width_in * 72 / (fontsize * 0.6)))  # a DejaVu Sans letter: ≤ 0.6 em
    return "\n".join(textwrap.fill(line, chars) for line in text.splitlines())


def report_title(info: reamp.ReampInfo, record: dict[str, Any] | None) -> str:
    """Two lines: the capture, its levels and verdict; then the reamp file."""
    source = f"{info.label}: {info.path.name}"
    if record is None:
        return source
    failed = [c["name"] for c in record.get("checks", []) if c.get("passed") is False]
    verdict = "PASS" if record.get("passed") else f"FAIL ({', '.join(failed)})"
    return (
        f"{record.get('name', '')} — {verdict} — input {record['input_level_dbu']:+.2f} dBu, "
        f"output {record['output_level_dbu']:+.2f} dBu\n{source}"
    )


def write_report(
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    info: reamp.ReampInfo,
    noise: np.ndarray,
    sr: int,
    decision: LatencyDecision,
    record: dict[str, Any] | None = None,
    *,
    noise_from: str | None = None,
) -> None:
    """Draw the report PNG: what a creator checks at a glance after a take.

    With the capture's `record` (capture.json), the title carries the capture's
    name, its dBu levels, PASS/FAIL and the failed checks, so the picture can
    be shared on its own; the PNG's Title text holds the same words. `noise_from`
    says where `noise` came from when it is not the noise take (a picture drawn
    again from the folder).
    """
    fig = report_figure(x, y, info, noise, sr, decision, record, noise_from=noise_from)
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=80, format="png", metadata={"Title": report_title(info, record)})
    plt.close(fig)


def report_figure(
    x: np.ndarray,
    y: np.ndarray,
    info: reamp.ReampInfo,
    noise: np.ndarray,
    sr: int,
    decision: LatencyDecision,
    record: dict[str, Any] | None = None,
    *,
    noise_from: str | None = None,
) -> Any:
    """The report's matplotlib figure (see write_report); every title fits its width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(FIG_WIDTH_IN, 10), constrained_layout=True)
    lay = info.layout
    ax = axes[0]
    if lay is not None:
        b = lay.blips[0]
        n = np.arange(-20, 80)
        seg = np.asarray(y[b + n], dtype=np.float64)
        scale = float(np.max(np.abs(x[b + n]))) / max(float(np.max(np.abs(seg))), 1e-12)
        ax.plot(n, x[b + n], label="input (blip)", color="C0", marker=".")
        ax.plot(n, seg * scale, label=f"aligned output (×{scale:.3g})", color="C1", marker=".")
        ax.axvline(0, color="k", linewidth=0.5)
        ax.set_title(
            fitted(
                f"Blip alignment — latency {decision.latency_samples:.2f} samples "
                f"({decision.used}); {decision.message}",
                9,
            ),
            fontsize=9,
        )
        ax.set_xlabel("samples from the blip")
        ax.legend(loc="upper right")
    else:
        ax.text(
            0.5,
            0.5,
            "custom signal: no NAM blips (timed by the station's preamble)",
            ha="center",
            va="center",
        )
        ax.set_axis_off()
    ax = axes[1]
    if lay is not None:
        for label, (lo, hi), colour in (
            ("validation copy 1", lay.validation_1, "C2"),
            ("validation copy 2", lay.validation_2, "C3"),
        ):
            t, db = _level_curve(y[lo:hi], sr)
            ax.plot(t, db, label=label, color=colour)
        ax.set_title("Output level of the two validation copies (they should overlap)", fontsize=9)
        ax.set_xlabel("seconds into the copy")
        ax.set_ylabel("dBFS (RMS·√2, 100 ms)")
        ax.legend(loc="lower right")
    else:
        t, db = _level_curve(y, sr, 0.5)
        ax.plot(t, db, color="C1")
        ax.set_title("Output level over the take", fontsize=9)
        ax.set_xlabel("seconds")
    ax = axes[2]
    nperseg = min(8192, max(256, len(noise) // 4))  # a short stretch still averages segments
    f, pxx = scipy.signal.welch(np.asarray(noise, dtype=np.float64), sr, nperseg=nperseg)
    ax.semilogx(f[1:], 10 * np.log10(np.maximum(pxx[1:], 1e-20)), color="C4")
    where = f" — from {noise_from}, drawn again from the folder" if noise_from else ""
    noise_title = f"Return with the gear on and silent (noise and hum){where}"
    ax.set_title(fitted(noise_title, 9), fontsize=9)
    ax.set_xlabel("Hz")
    ax.set_ylabel("dBFS²/Hz")
    ax.set_xlim(20, sr / 2)
    colour = "black" if record is None else ("darkgreen" if record.get("passed") else "darkred")
    fig.suptitle(fitted(report_title(info, record), 11), fontsize=11, color=colour)
    return fig

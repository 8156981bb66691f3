"""Checks on any (input, output) pair: a stored station capture or a pair recorded in a DAW."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import checks, latency, reamp
from .capture_io import read_capture_meta
from .checks import Check
from .errors import SignalError, StationError


@dataclass
class PairReport:
    """The verdict on a pair, with the latency found in the output as it stands."""

    input_path: Path
    output_path: Path
    kind: str  # "capture" (aligned by the station) or "daw"
    checks: list[Check]
    latency_found_samples: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(c.passed for c in self.checks)


def _read_any(path: Path) -> tuple[np.ndarray, int, int]:
    import soundfile as sf

    if not Path(path).is_file():
        raise StationError(f"there is no file {path}", "check the path")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:
        raise StationError(f"cannot read {path} as audio: {exc}", "give a WAV file") from None
    return data[:, 0], int(sr), data.shape[1]


def check_capture_dir(folder: Path) -> PairReport:
    """Re-run the checks on `folder` (input.wav + output.wav, capture.json optional)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StationError(
            f"{folder} is not a folder",
            "give a capture folder, or use --input IN --output OUT for a pair of files",
        )
    meta = read_capture_meta(folder) if (folder / "capture.json").is_file() else None
    return check_pair(folder / "input.wav", folder / "output.wav", meta)


def check_pair(
    input_path: Path, output_path: Path, meta: dict[str, Any] | None = None
) -> PairReport:
    """All checks on a pair; `meta` (a capture.json) marks it as aligned by the station."""
    x, x_sr, x_ch = _read_any(input_path)
    y, y_sr, y_ch = _read_any(output_path)
    kind = "capture" if meta is not None else "daw"
    out: list[Check] = [checks.check_sample_rate(x_sr, y_sr), checks.check_channels(y_ch)]
    if x_ch != 1:
        out.append(Check("input_channels", "fail", x_ch, 1, "the input must be mono"))
    report = PairReport(Path(input_path), Path(output_path), kind, out)
    if x_sr != reamp.RATE or y_sr != x_sr:
        out.append(
            Check("analysis", "n/a", None, None, "the other checks need both files at 48 kHz")
        )
        return report
    out.append(checks.check_length(len(x), len(y), x_sr, exact=kind == "capture"))
    try:
        info = reamp.recognise(Path(input_path))
        layout = info.layout
    except SignalError:
        layout = None
    if layout is not None and len(y) >= layout.validation_2[0]:
        out.append(checks.check_trainer_blips(y, layout))
    found = _latency_found(x, y, layout, report)
    out.append(_alignment(found, kind, meta))
    if meta is not None:
        lat = meta.get("latency", {})
        out.append(
            Check(
                "latency_agreement",
                "pass"
                if lat.get("disagreement_samples", 0) <= latency.AGREEMENT_SAMPLES
                else "warn",
                lat.get("disagreement_samples"),
                latency.AGREEMENT_SAMPLES,
                str(lat.get("message", "")),
            )
        )
    out.append(checks.check_return_peak(y))
    if layout is not None and len(y) >= len(x):
        out.extend(checks.check_replicate(y, layout, len(x)))
        noise = (meta or {}).get("noise", {})
        if noise.get("noise_floor_dbfs") is not None:
            out.append(checks.check_noise_floor(noise["noise_floor_dbfs"], noise.get("hum_dbfs")))
        else:
            out.append(checks.check_noise_floor(checks.silence_noise_dbfs(y, layout)))
    out.append(checks.check_dropouts(x, y))
    return report


def _latency_found(
    x: np.ndarray, y: np.ndarray, layout: reamp.Layout | None, report: PairReport
) -> float | None:
    section = layout.broadband if layout is not None else (0, min(len(x), 10 * reamp.RATE))
    estimates: dict[str, float] = {}
    try:
        xc = latency.xcorr_estimate(
            x, y, section, reamp.RATE, max_delay=min(48_000, len(y) - section[1])
        )
        estimates["xcorr"] = xc.delay_samples
        report.extra["polarity"] = xc.polarity
    except (SignalError, ValueError):
        pass
    if layout is not None:
        with contextlib.suppress(SignalError):
            estimates["blip"] = latency.blip_estimate(
                y, layout.blips, layout.background
            ).delay_samples
    report.extra["latency_estimates_samples"] = estimates
    found = estimates.get("blip", estimates.get("xcorr"))
    report.latency_found_samples = None if found is None else float(found)
    return report.latency_found_samples


def _alignment(found: float | None, kind: str, meta: dict[str, Any] | None) -> Check:
    if found is None:
        return Check(
            "alignment",
            "fail",
            None,
            None,
            "no latency could be found between input and output: is this the "
            "gear's response to this input?",
        )
    # A station capture keeps the gear's own delay (a sample or two); a DAW pair is judged
    # by how far the trainer must shift it.
    tolerance = latency.AGREEMENT_SAMPLES
    if abs(found) <= tolerance:
        return Check(
            "alignment",
            "pass",
            round(found, 2),
            tolerance,
            f"output aligned with the input (offset {found:+.2f} samples)",
        )
    inside = -latency.TRAINER_LOOKAHEAD < found < latency.TRAINER_LOOKBACK
    if kind == "daw" and inside:
        return Check(
            "alignment",
            "warn",
            round(found, 2),
            tolerance,
            f"the output is offset by {found:+.1f} samples "
            f"({found / reamp.RATE * 1000:+.2f} ms): the trainer will compensate with "
            "its blips; the station would align it exactly",
        )
    return Check(
        "alignment",
        "fail",
        round(found, 2),
        tolerance,
        f"the output is offset by {found:+.1f} samples "
        f"({found / reamp.RATE * 1000:+.2f} ms)"
        + ("" if inside else ": beyond what the NAM trainer can detect"),
    )


def summarise(report: PairReport) -> dict[str, Any]:
    """The JSON shape shared with `station capture`: passed, checks, and what was found."""
    return {
        "input": str(report.input_path),
        "output": str(report.output_path),
        "kind": report.kind,
        "passed": report.passed,
        "latency_found_samples": (
            None
            if report.latency_found_samples is None
            or not math.isfinite(report.latency_found_samples)
            else report.latency_found_samples
        ),
        "checks": [c.to_json() for c in report.checks],
        **report.extra,
    }

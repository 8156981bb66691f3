"""Checks on any (input, output) pair: a stored station capture or a pair recorded in a DAW."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SignalError, StationError
from ..phrases import Phrase
from ..reamp import files as reamp
from ..signal import latency
from . import checks
from .checks import Check
from .folder import read_capture_meta
from .redraw import draw_missing


@dataclass
class PairReport:
    """The verdict on a pair, with the latency found in the output as it stands."""

    input_path: Path
    output_path: Path
    kind: str  # "capture" (aligned by the station) or "daw"
    checks: list[Check]
    latency_found_samples: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stored_latency: dict[str, Any] | None = None  # a capture.json's latency block
    notes: list[str] = field(default_factory=list)  # e.g. a missing report.png drawn again

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
    """Re-run the checks on `folder` (input.wav + output.wav, capture.json optional).

    A station capture whose report.png is missing (a take stopped after its folder
    was committed) has it drawn again; the report's `notes` say so.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StationError(
            f"{folder} is not a folder",
            Phrase("give a capture folder, or {pair}"),
        )
    meta = read_capture_meta(folder) if (folder / "capture.json").is_file() else None
    report = check_pair(folder / "input.wav", folder / "output.wav", meta)
    report.notes.extend(draw_missing(folder) if meta is not None else [])
    return report


def check_pair(
    input_path: Path, output_path: Path, meta: dict[str, Any] | None = None
) -> PairReport:
    """All checks on a pair; `meta` (a capture.json) marks it as aligned by the station.

    A check that cannot apply is a row with status n/a and the reason, never left out.
    """
    x, x_sr, x_ch = _read_any(input_path)
    y, y_sr, y_ch = _read_any(output_path)
    kind = "capture" if meta is not None else "daw"
    out: list[Check] = []
    report = PairReport(Path(input_path), Path(output_path), kind, out)
    info: reamp.ReampInfo | None = None
    if x_sr == reamp.RATE:
        try:
            info = reamp.recognise(Path(input_path), (x, x_sr))
        except SignalError as exc:
            out.append(Check("reamp_file", "n/a", None, None, exc.message))
        else:
            out.append(checks.check_reamp_file(info))
            report.extra["reamp_file"] = {
                "kind": info.kind,
                "label": info.label,
                "recognised_by": info.recognised_by,
                "recognition": info.recognition,
            }
    out += [checks.check_sample_rate(x_sr, y_sr), checks.check_channels(y_ch)]
    if x_ch != 1:
        out.append(Check("input_channels", "fail", x_ch, 1, "the input must be mono"))
    if meta is not None:
        for key in ("input_level_dbu", "output_level_dbu"):
            report.extra[key] = meta.get(key)
        report.stored_latency = meta.get("latency")
    if x_sr != reamp.RATE or y_sr != x_sr:
        for name in NEED_48K:
            out.append(Check(name, "n/a", None, None, "this check needs both files at 48 kHz"))
        return report
    out.append(checks.check_length(len(x), len(y), x_sr, exact=kind == "capture"))
    layout = info.layout if info is not None else None
    if layout is None:
        out.append(
            Check("trainer_blips", "n/a", None, None, "not a NAM layout: the input has no blips")
        )
    elif len(y) < layout.blips[-1] + latency.TRAINER_LOOKBACK:
        out.append(
            Check("trainer_blips", "n/a", None, None, "the output ends before the blips' responses")
        )
    else:
        out.append(checks.check_trainer_blips(y, layout))
    found = _latency_found(x, y, layout, report)
    out.append(_alignment(found, kind, meta))
    out.append(_agreement(report, meta))
    lag = None if found is None else round(found)
    noise = _noise_floor(y, layout, meta)
    out.append(checks.check_return_signal(x, y, noise, lag or 0))
    out.append(checks.check_return_peak(y))
    # As the trainer does: the copies where they stand (an offset moves both alike).
    out.extend(checks.check_replicate(y, info.replicate if info is not None else None))
    if noise is not None:
        hum = (meta or {}).get("noise", {}).get("hum_dbfs")
        out.append(checks.check_noise_floor(noise, hum))
    else:
        out.append(
            Check(
                "noise_floor",
                "n/a",
                None,
                checks.NOISE_WARN_DBFS,
                "no silence in the input to measure the output's noise in",
            )
        )
    out.append(checks.check_dropouts(x, y, lag))
    return report


NEED_48K = (
    "length",
    "trainer_blips",
    "alignment",
    "latency_agreement",
    "return_signal",
    "return_peak",
    "replicate_esr",
    "validation_drift",
    "noise_floor",
    "dropouts",
)


def _noise_floor(
    y: np.ndarray, layout: reamp.Layout | None, meta: dict[str, Any] | None
) -> float | None:
    """The noise floor a capture measured, else the output over the layout's silence."""
    stored = (meta or {}).get("noise", {}).get("noise_floor_dbfs")
    if stored is not None:
        return float(stored)
    if layout is not None and layout.background[1] <= len(y):
        return checks.silence_noise_dbfs(y, layout)
    return None


def _agreement(report: PairReport, meta: dict[str, Any] | None) -> Check:
    """A capture's stored latency estimates; a DAW pair's blip and cross-correlation."""
    if meta is not None:
        lat = meta.get("latency", {})
        return checks.check_latency_agreement(
            lat.get("estimates_samples") or {},
            float(lat.get("disagreement_samples") or 0.0),
            str(lat.get("message", "")),
            agree=lat.get("agree"),
        )
    block = report.extra["latency"]
    return checks.check_latency_agreement(
        block["estimates_samples"],
        block["disagreement_samples"] or 0.0,
        block["message"],
        required=False,
    )


def _latency_found(
    x: np.ndarray, y: np.ndarray, layout: reamp.Layout | None, report: PairReport
) -> float | None:
    section = layout.broadband if layout is not None else (0, min(len(x), 10 * reamp.RATE))
    estimates: dict[str, float | None] = {"blip": None, "xcorr": None}
    polarity = None
    try:
        xc = latency.xcorr_estimate(
            x, y, section, reamp.RATE, max_delay=min(48_000, len(y) - section[1])
        )
        estimates["xcorr"] = xc.delay_samples
        polarity = xc.polarity
    except (SignalError, ValueError):
        pass
    if layout is not None:
        with contextlib.suppress(SignalError):
            blip = latency.blip_estimate(y, layout.blips, layout.background)
            estimates["blip"] = blip.delay_samples
            polarity = polarity if polarity is not None else blip.polarity
    if layout is None:
        del estimates["blip"]
    found = estimates.get("blip")
    used = "blip" if found is not None else "xcorr"
    if found is None:
        found = estimates.get("xcorr")
    values = [v for v in estimates.values() if v is not None]
    spread = max(values) - min(values) if len(values) >= 2 else None
    detail = ", ".join(f"{k} {v:.2f}" for k, v in estimates.items() if v is not None)
    if found is None:
        message = "no method found the input in the output"
    elif spread is None:
        message = f"only {used} found a latency ({detail})"
    elif spread <= latency.AGREEMENT_SAMPLES:
        message = f"blip and cross-correlation agree within {spread:.2f} samples ({detail})"
    else:
        message = f"blip and cross-correlation disagree by {spread:.2f} samples ({detail})"
    report.extra["latency_estimates_samples"] = estimates
    report.extra["polarity"] = polarity
    report.extra["latency"] = {
        "estimates_samples": estimates,
        "used": used if found is not None else None,
        "latency_samples": found,
        "polarity": polarity,
        "disagreement_samples": spread,
        "message": message,
    }
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
    """The JSON shape shared with `station capture`: passed, checks, levels and latency.

    `latency_samples` is the latency found in the output as given (0 for an
    aligned capture); a capture's `latency` block is how the station aligned it.
    """
    found = report.latency_found_samples
    found = None if found is None or not math.isfinite(found) else found
    out: dict[str, Any] = {
        "input": str(report.input_path),
        "output": str(report.output_path),
        "kind": report.kind,
        "passed": report.passed,
        "latency_samples": found,
        "latency_found_samples": found,
        "polarity": None,
        "checks": [c.to_json() for c in report.checks],
        **report.extra,
    }
    if report.stored_latency is not None:
        out["latency"] = {**report.stored_latency, "found_in_output": out.get("latency")}
        out["polarity"] = report.stored_latency.get("polarity", out["polarity"])
    return out

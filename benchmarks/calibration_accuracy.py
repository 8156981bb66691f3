"""Calibration accuracy over random realistic virtual rigs, against each rig's truth.

The virtual interface has DC-blocking high-passes, anti-alias filters with
passband ripple and a latency that moves 0–3 samples per stream; each rig gets
a realistic meter whose actual error is drawn from its stated accuracy (taken
as a 95 % bound) and whose reading falls off above its bandwidth. Levels are
compared with the truth at the tone frequency; "within ±2σ" is the share of
rigs whose true level lies inside the uncertainty the station reports (about
95 % if that uncertainty is honest). The "typed in" meter is read off its display
and typed, as a user does (`--meter manual`), with the station's default
accuracy for a meter whose own is not given: ±(0.5 % + 2 counts). Every
calibration uses a timing reference, so the latency rows also show how well the
reference follows the latency.

Run: python benchmarks/calibration_accuracy.py [--rigs 50] [--seed 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np

from station.drivers.base import StreamSpec, Voltmeter
from station.drivers.meter import DEFAULT_ACCURACY, ManualMeter
from station.interface.calibrate import LATENCY_STREAMS, CalibrationSettings, calibrate
from station.virtual.rig import random_rig


@dataclass(frozen=True)
class Meter:
    """A kind of voltmeter and the tone it is used with."""

    label: str
    accuracy_percent: float
    bandwidth_hz: float
    digits: int
    tone_hz: float
    typed: bool = False  # its display is typed in (the manual meter), with the default accuracy


METERS = (
    Meter("true-RMS meter ±0.5 %, 20 kHz, 1 kHz tone", 0.5, 20_000.0, 5, 1000.0),
    Meter("cheap handheld ±1 %, 2 kHz, 100 Hz tone", 1.0, 2_000.0, 4, 100.0),
    Meter("cheap handheld ±1 %, 2 kHz, 1 kHz tone", 1.0, 2_000.0, 4, 1000.0),
    Meter("handheld ±0.5 %, 20 kHz, typed in, 1 kHz", 0.5, 20_000.0, 4, 1000.0, typed=True),
)


def one_rig(rng: np.random.Generator, meter: Meter) -> dict[str, float]:
    """Calibrate one random rig with a timing reference; errors against its truths."""
    rig = random_rig(
        rng,
        speed=None,
        meter_digits=meter.digits,
        meter_accuracy_percent=meter.accuracy_percent,
        meter_bandwidth_hz=meter.bandwidth_hz,
        meter_gain_error=float(rng.normal(0.0, meter.accuracy_percent / 200.0)),
    )
    settings = CalibrationSettings(
        StreamSpec(48000, 1, 1), tone_hz=meter.tone_hz, timing_out=2, timing_in=2
    )
    meter_in_use: Voltmeter = rig.meter
    if meter.typed:
        meter_in_use = ManualMeter(lambda _p, _e: rig.meter_display(), accuracy=DEFAULT_ACCURACY)
    r = calibrate(rig.interface, meter_in_use, settings, confirm=rig.act_on)
    send_err = r.send_dbu_at_0dbfs - rig.true_send_dbu(meter.tone_hz)
    return_err = r.return_dbu_at_0dbfs - rig.true_return_dbu(meter.tone_hz)
    streams = rig.streams[-1 - LATENCY_STREAMS : -1]
    truths = [s.latency_samples for s in streams]
    take_err = max(abs(m - t) for m, t in zip(r.latency_takes_samples, truths, strict=True))
    ref_truth = np.mean([s.timing_latency_samples for s in streams])
    return {
        "send": send_err,
        "send_in": float(abs(send_err) <= 2 * r.send_uncertainty_db),
        "return": return_err,
        "return_in": float(abs(return_err) <= 2 * r.return_uncertainty_db),
        "take": take_err,
        "spread": r.latency_spread_samples,
        "spread_err": abs(r.latency_spread_samples - (max(truths) - min(truths))),
        "ref": abs(r.timing_reference_delay_samples - ref_truth),  # type: ignore[operator]
        "send_sigma": r.send_uncertainty_db,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rigs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    t0 = time.perf_counter()
    print(
        f"calibration accuracy over {args.rigs} random realistic virtual rigs per meter (send "
        "+4…+24 dBu, return −6…+20 dBu, latency 100–5000 samples moving 0–3 per stream, "
        "noise −110…−70 dBFS)\n"
    )
    print(
        f"{'meter and tone':<44}{'send err dB':>20}{'±2σ':>6}{'return err dB':>20}{'±2σ':>6}"
        f"{'σ send':>8}"
    )
    print(f"{'':<44}{'median / worst':>20}{'':>6}{'median / worst':>20}")
    latency_rows = []
    for meter in METERS:
        rng = np.random.default_rng(args.seed)
        rows = [one_rig(rng, meter) for _ in range(args.rigs)]
        latency_rows += rows

        def col(key: str, rows: list[dict[str, float]] = rows) -> list[float]:
            return [row[key] for row in rows]

        def pair(key: str) -> str:
            errs = [abs(v) for v in col(key)]
            return f"{statistics.median(errs):.3f} / {max(errs):.3f}"

        print(
            f"{meter.label:<44}{pair('send'):>20}{np.mean(col('send_in')):>6.0%}"
            f"{pair('return'):>20}{np.mean(col('return_in')):>6.0%}"
            f"{statistics.median(col('send_sigma')):>8.3f}"
        )
    takes = [r["take"] for r in latency_rows]
    spreads = [r["spread"] for r in latency_rows]
    print(
        f"\nlatency over {len(latency_rows)} calibrations ({LATENCY_STREAMS} streams each), "
        "samples                    median      worst"
    )
    for label, values in (
        ("each stream's latency vs its truth (error)", takes),
        ("spread across streams (the driver's moves)", spreads),
        ("that spread vs the true spread (error)", [r["spread_err"] for r in latency_rows]),
        ("timing reference delay vs its truth (error)", [r["ref"] for r in latency_rows]),
    ):
        print(f"  {label:<64}{statistics.median(values):>9.3f}{max(values):>11.3f}")
    warned = np.mean([s > 0.25 for s in spreads])
    print(f"  calibrations that warned of a moving latency (spread > 0.25): {warned:.0%}")
    elapsed = time.perf_counter() - t0
    print(f"\n{elapsed:.0f} s in all, {elapsed / len(latency_rows) * 1000:.0f} ms per calibration")


if __name__ == "__main__":
    main()

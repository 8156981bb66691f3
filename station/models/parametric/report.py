"""The training report of a sweep: ESR per held-out setting, worst and median, and a picture.

The picture places every setting in the knob space (the first two knobs; one
marker shape per switch combination), held-out settings coloured by their ESR
and training settings as grey crosses, beside a bar per held-out setting.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .session import Sweep
from .verify import SettingScore


def _switch_key(sweep: Sweep, values: dict[str, Any]) -> str:
    parts = [f"{p.name}={values[p.name]}" for p in sweep.specs if p.kind == "switch"]
    return " ".join(parts) or "all"


def write_plot(
    path: Path, sweep: Sweep, holdout: list[SettingScore], train: list[SettingScore]
) -> Path:
    """Draw ESR across the knob space and per held-out setting into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    knobs = [p for p in sweep.specs if p.kind == "knob"]
    fig, (ax, bars) = plt.subplots(
        1, 2, figsize=(13, 5.5), constrained_layout=True, gridspec_kw={"width_ratios": [3, 2]}
    )
    esrs = [max(s.esr, 1e-6) for s in holdout]
    norm = LogNorm(vmin=min(esrs), vmax=max(max(esrs), min(esrs) * 10))
    combos = sorted({_switch_key(sweep, s.values) for s in holdout + train})
    shapes = dict(zip(combos, "osD^vP*XhH<>", strict=False))

    def coords(s: SettingScore) -> tuple[float, float]:
        if not knobs:
            return float(combos.index(_switch_key(sweep, s.values))), 0.0
        x = float(s.values[knobs[0].name])
        return x, (float(s.values[knobs[1].name]) if len(knobs) > 1 else s.esr)

    for s in train:
        shape = shapes[_switch_key(sweep, s.values)]
        ax.scatter(*coords(s), marker=shape, facecolors="none", edgecolors="0.6", s=60)
    sc = None
    for s in holdout:
        cx, cy = coords(s)
        sc = ax.scatter(
            cx, cy, c=[max(s.esr, 1e-6)], cmap="viridis_r", norm=norm, s=120,
            marker=shapes[_switch_key(sweep, s.values)], edgecolors="k",
        )  # fmt: skip
        ax.annotate(f"{s.esr:.3g}", (cx, cy), textcoords="offset points", xytext=(6, 6))
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="held-out ESR")
    for combo in combos:
        ax.scatter([], [], marker=shapes[combo], color="w", edgecolors="k", label=combo)
    ax.scatter([], [], marker="o", facecolors="none", edgecolors="0.6", label="training setting")
    ax.legend(fontsize=8, loc="best")
    if knobs:
        ax.set_xlabel(knobs[0].name)
        ax.set_xlim(knobs[0].minval - 0.5, knobs[0].maxval + 0.5)
        if len(knobs) > 1:
            ax.set_ylabel(knobs[1].name)
            ax.set_ylim(knobs[1].minval - 0.5, knobs[1].maxval + 0.5)
        else:
            ax.set_ylabel("ESR")
            ax.set_yscale("log")
    ax.set_title(f"{sweep.name}: held-out ESR across the knob space", fontsize=10)
    order = sorted(holdout, key=lambda s: s.esr)
    bars.barh([f"{s.id}\n{s.label}" for s in order], [s.esr for s in order], color="C0")
    bars.tick_params(axis="y", labelsize=7)
    bars.set_xlabel("ESR on the held-out stretch of the signal")
    for i, s in enumerate(order):
        bars.text(s.esr, i, f" {s.esr:.3g}", va="center", fontsize=8)
    worst = max((s.esr for s in holdout), default=math.nan)
    bars.set_title(f"{len(holdout)} held-out settings: worst ESR {worst:.4g}", fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

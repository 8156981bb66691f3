"""The training report of a sweep: ESR per held-out setting, worst and median, and a picture.

The picture places every setting in the knob space (the first two knobs; one
marker shape per switch combination), held-out settings coloured by the verdict
their ESR earns (the colour scale beside it names each band: excellent, good,
fair, poor, the words training prints) and training settings as grey circles,
beside a bar per held-out setting in the same colours.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..train import ESR_VERDICTS
from .session import Sweep, chosen_rounds
from .verify import SettingScore

BAND_COLOURS = ("#1a9850", "#a6d96a", "#fdae61", "#d73027")  # excellent, good, fair, poor


def verdict_bands(worst: float) -> tuple[list[float], list[str]]:
    """The ESR band edges of the colour scale (0, each verdict's limit, then the worst ESR or
    1, whichever is more) and each band's name with its range."""
    limits = [limit for limit, _ in ESR_VERDICTS]
    top = max(1.0, worst if math.isfinite(worst) else 1.0)
    edges = [0.0, *limits, top]
    names = [words.split(":")[0] for _, words in ESR_VERDICTS] + ["poor"]
    labels = [f"{name}\n≤ {limit:g}" for name, limit in zip(names, limits, strict=False)]
    labels.append(f"poor\n> {limits[-1]:g}")
    return edges, labels


def _switch_key(sweep: Sweep, values: dict[str, Any]) -> str:
    parts = [f"{p.name}={values[p.name]}" for p in sweep.specs if p.kind == "switch"]
    return " ".join(parts) or "all"


def write_plot(
    path: Path, sweep: Sweep, holdout: list[SettingScore], train: list[SettingScore]
) -> Path:
    """Draw ESR across the knob space and per held-out setting into a PNG."""
    import matplotlib.pyplot as plt

    fig = plot(sweep, holdout, train)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot(sweep: Sweep, holdout: list[SettingScore], train: list[SettingScore]) -> Any:
    """The report's matplotlib figure: the knob space, the bars, and the verdict scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap

    knobs = [p for p in sweep.specs if p.kind == "knob"]
    fig, (ax, bars) = plt.subplots(
        1, 2, figsize=(13, 5.5), constrained_layout=True, gridspec_kw={"width_ratios": [3, 2]}
    )
    worst = max((s.esr for s in holdout), default=math.nan)
    edges, band_labels = verdict_bands(worst)
    cmap = ListedColormap(BAND_COLOURS)
    norm = BoundaryNorm(edges, cmap.N)
    combos = sorted({_switch_key(sweep, s.values) for s in holdout + train})
    shapes = dict(zip(combos, "osD^vP*XhH<>", strict=False))

    def coords(s: SettingScore) -> tuple[float, float]:
        if not knobs:
            return float(combos.index(_switch_key(sweep, s.values))), 0.0
        x = float(s.values[knobs[0].name])
        return x, (float(s.values[knobs[1].name]) if len(knobs) > 1 else s.esr)

    chosen = chosen_rounds(sweep.path)
    for s in train:
        shape = shapes[_switch_key(sweep, s.values)]
        if s.id in chosen:  # an adaptive round put it here: filled, with its round
            ax.scatter(*coords(s), marker=shape, color="0.6", edgecolors="0.3", s=60)
            ax.annotate(
                f"r{chosen[s.id]}", coords(s), textcoords="offset points", xytext=(5, -10),
                fontsize=7, color="0.35",
            )  # fmt: skip
        else:
            ax.scatter(*coords(s), marker=shape, facecolors="none", edgecolors="0.6", s=60)
    for s in holdout:
        cx, cy = coords(s)
        ax.scatter(
            cx, cy, color=cmap(norm(s.esr)), s=120, marker=shapes[_switch_key(sweep, s.values)],
            edgecolors="k",
        )  # fmt: skip
        ax.annotate(f"{s.esr:.3g}", (cx, cy), textcoords="offset points", xytext=(6, 6))
    # Even bands on the scale, each named: the colours say a verdict, not a bare number.
    bar = fig.colorbar(
        ScalarMappable(norm=BoundaryNorm(range(len(edges)), cmap.N), cmap=cmap), ax=ax
    )
    bar.set_ticks([i + 0.5 for i in range(len(band_labels))], labels=band_labels, fontsize=8)
    bar.set_label("held-out ESR verdict (lower ESR is better)")
    for combo in combos:
        ax.scatter([], [], marker=shapes[combo], color="w", edgecolors="k", label=combo)
    ax.scatter([], [], marker="o", facecolors="none", edgecolors="0.6", label="training setting")
    if chosen:
        chosen_label = "chosen by adaptive round N (rN)"
        ax.scatter([], [], marker="o", color="0.6", edgecolors="0.3", label=chosen_label)
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
    bars.barh(
        [f"{s.id}\n{s.label}" for s in order],
        [s.esr for s in order],
        color=[cmap(norm(s.esr)) for s in order],
    )
    bars.tick_params(axis="y", labelsize=7)
    bars.set_xlabel("ESR on the held-out stretch of the signal")
    for i, s in enumerate(order):
        bars.text(s.esr, i, f" {s.esr:.3g}", va="center", fontsize=8)
    bars.set_title(f"{len(holdout)} held-out settings: worst ESR {worst:.4g}", fontsize=10)
    return fig

"""Small display widgets: a return meter with peak hold, a checks table, text plots."""

from __future__ import annotations

import math
import time

import numpy as np
from textual.widgets import DataTable, Static

STATUS_STYLE = {
    "pass": "[green]pass[/green]",
    "warn": "[yellow]WARN[/yellow]",
    "fail": "[b red]FAIL[/b red]",
    "n/a": "[dim]n/a[/dim]",
    "info": "[dim]info[/dim]",
}


class LevelMeter(Static):
    """A horizontal dBFS bar with a 2 s peak hold and a clip light."""

    FLOOR_DBFS = -60.0

    def __init__(self, label: str, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.label = label
        self.level_dbfs = -math.inf
        self.peak_dbfs = -math.inf
        self._peak_at = 0.0
        self.clipped = False

    def show_level(self, level_dbfs: float) -> None:
        """Show a new reading."""
        now = time.monotonic()
        self.level_dbfs = level_dbfs
        if level_dbfs >= self.peak_dbfs or now - self._peak_at > 2.0:
            self.peak_dbfs, self._peak_at = level_dbfs, now
        self.clipped = self.clipped or level_dbfs >= -0.01
        self.refresh_bar()

    def reset(self) -> None:
        """Clear the peak and the clip light."""
        self.level_dbfs = self.peak_dbfs = -math.inf
        self.clipped = False
        self.refresh_bar()

    def refresh_bar(self) -> None:
        """Redraw the bar."""
        width = 40
        frac = (
            0.0
            if not math.isfinite(self.level_dbfs)
            else max(0.0, min(1.0, 1 - self.level_dbfs / self.FLOOR_DBFS))
        )
        filled = int(frac * width)
        colour = "red" if self.level_dbfs > -1 else "yellow" if self.level_dbfs > -6 else "green"
        bar = f"[{colour}]{'█' * filled}[/{colour}]{'·' * (width - filled)}"
        peak = f"{self.peak_dbfs:6.1f}" if math.isfinite(self.peak_dbfs) else "  -inf"
        clip = "[b white on red] CLIP [/]" if self.clipped else "[dim] clip [/dim]"
        self.update(f"{self.label} {bar} peak {peak} dBFS {clip}")


def fill_checks(table: DataTable, checks: list) -> None:
    """Show checks (name, status, value, threshold, message) in a DataTable."""
    table.clear(columns=True)
    table.add_columns("check", "result", "value", "threshold", "message")
    for c in checks:
        value = c.value
        shown = f"{value:.4g}" if isinstance(value, float) else "-" if value is None else str(value)
        table.add_row(
            c.name,
            STATUS_STYLE.get(c.status, c.status),
            shown,
            "-" if c.threshold is None else str(c.threshold),
            c.message,
        )


def text_plot(series: list[tuple[str, np.ndarray]], width: int = 60, height: int = 8) -> str:
    """A small plot in text: each series resampled to `width` columns, one glyph per series."""
    glyphs = "●○◆+x"
    values = [np.asarray(s, dtype=np.float64) for _, s in series]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(1)
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    grid = [[" "] * width for _ in range(height)]
    for k, v in enumerate(values):
        if not len(v):
            continue
        idx = np.linspace(0, len(v) - 1, width).astype(int)
        for col, i in enumerate(idx):
            if math.isfinite(v[i]):
                row = height - 1 - round((v[i] - lo) / (hi - lo) * (height - 1))
                grid[row][col] = glyphs[k % len(glyphs)] if grid[row][col] == " " else "▪"
    lines = [f"{hi:8.2f} ┤" + "".join(grid[0])]
    lines += ["         │" + "".join(r) for r in grid[1:-1]]
    lines.append(f"{lo:8.2f} ┤" + "".join(grid[-1]))
    legend = "   ".join(f"{glyphs[k % len(glyphs)]} {name}" for k, (name, _) in enumerate(series))
    return "\n".join(lines) + "\n          " + legend

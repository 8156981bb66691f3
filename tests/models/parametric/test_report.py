"""The parametric report's picture: its colour scale names the verdict each colour means."""

from __future__ import annotations

from pathlib import Path

from matplotlib.colors import to_hex

from station.models.parametric.report import BAND_COLOURS, plot
from station.models.parametric.session import load_sweep
from station.models.parametric.verify import SettingScore
from tests.sweep_fixture import short_input, write_session


def score(sweep, sid: str, esr: float) -> SettingScore:
    s = next(s for s in sweep.settings if s.id == sid)
    return SettingScore(s.id, s.role, s.label(), s.values(), esr, None, 0.0, 1.0)


def test_the_colours_say_the_verdict_and_the_scale_names_it(tmp_path: Path) -> None:
    # The scale ran from the best held-out ESR to ten times it, unnamed: one poor setting
    # (0.87) came out the colour of the scale's best end.
    sweep = load_sweep(write_session(tmp_path / "s", short_input(tmp_path / "in.wav")))
    esrs = {"h001": 0.004, "h002": 0.05, "h003": 0.87}  # excellent, fair, poor
    holdout = [score(sweep, sid, esr) for sid, esr in esrs.items()]
    train = [score(sweep, s.id, 0.01) for s in sweep.settings if s.role == "train"]
    fig = plot(sweep, holdout, train)
    knob_space, bars, scale = fig.axes
    assert "verdict" in scale.get_ylabel()
    names = [t.get_text().split("\n")[0] for t in scale.get_yticklabels()]
    assert names == ["excellent", "good", "fair", "poor"]
    held = [c for c in knob_space.collections if len(c.get_offsets()) and c.get_sizes()[0] == 120]
    colours = {tuple(c.get_offsets()[0]): to_hex(c.get_facecolor()[0]) for c in held}
    for s in holdout:
        xy = (s.values["drive"], s.values["tone"])
        band = {"h001": 0, "h002": 2, "h003": 3}[s.id]
        assert colours[xy] == BAND_COLOURS[band], s.id
    assert [to_hex(p.get_facecolor()) for p in bars.patches] == [
        BAND_COLOURS[0], BAND_COLOURS[2], BAND_COLOURS[3]
    ]

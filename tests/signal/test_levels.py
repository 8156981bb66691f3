"""The level math of docs/design.md §2, against hand-worked values and as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.signal import levels

finite = st.floats(min_value=-60.0, max_value=40.0, allow_nan=False)


def test_zero_dbu_is_0_7746_volts() -> None:
    assert levels.vrms_from_dbu(0.0) == pytest.approx(0.774597, abs=5e-7)
    assert levels.dbu_from_vrms(1.0) == pytest.approx(2.2185, abs=1e-4)


@given(finite)
def test_dbu_volts_round_trip(level_dbu: float) -> None:
    assert levels.dbu_from_vrms(levels.vrms_from_dbu(level_dbu)) == pytest.approx(
        level_dbu, abs=1e-9
    )


@pytest.mark.parametrize("vrms", [0.0, -1.0, math.nan])
def test_non_positive_volts_rejected(vrms: float) -> None:
    with pytest.raises(ValueError):
        levels.dbu_from_vrms(vrms)


def test_send_calibration_example() -> None:
    # A −12 dBFS sine reading 1.2277 V: S = dBu(1.2277) + 12.
    assert levels.send_dbu_at_0dbfs(1.2277, -12.0) == pytest.approx(16.0003, abs=1e-3)


@given(finite, finite, finite)
def test_return_calibration_is_s_plus_delta_minus_l(s: float, delta: float, l_: float) -> None:
    r = levels.return_dbu_at_0dbfs(s, delta, l_)
    # The defining identity: the loopback tone's analog level, seen from both converters.
    assert s + delta == pytest.approx(r + l_, abs=1e-9)


def test_player_trim_worked_examples() -> None:
    assert levels.player_trim_db(12.2, 15.0) == pytest.approx(-2.8)
    assert levels.player_trim_db(12.2, 15.0, interface_gain_db=5.0) == pytest.approx(-7.8)


@given(finite, st.floats(min_value=-30.0, max_value=0.0))
def test_max_reamp_level_puts_the_file_peak_at_the_ceiling(
    send_dbu: float, peak_dbfs: float
) -> None:
    p = levels.max_reamp_dbu(send_dbu, peak_dbfs)
    assert peak_dbfs + levels.reamp_gain_db(p, send_dbu) == pytest.approx(-0.1, abs=1e-9)

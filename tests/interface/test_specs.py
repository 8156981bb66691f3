"""The shipped spec table loads and holds the rows the issue names."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.errors import ProfileError
from station.interface.specs import load_specs


def test_shipped_table() -> None:
    specs = {s.name: s for s in load_specs()}
    assert specs["Universal Audio Apollo Twin X"].max_input_dbu == 12.2
    assert specs["Solid State Logic SSL2+"].max_input_dbu == 15.0
    assert specs["Focusrite Scarlett 2i2 3rd Gen"].max_input_dbu == 12.5
    assert all(s.source for s in specs.values())


def test_home_table_wins_and_bad_rows_are_clear(home: Path) -> None:
    table = home / "calibration" / "interface_specs.toml"
    table.write_text('[[interface]]\nname = "Mine"\nmax_input_dbu = 9.5\n')
    assert [s.name for s in load_specs(home)] == ["Mine"]
    table.write_text('[[interface]]\nname = "Broken"\n')
    with pytest.raises(ProfileError, match="max_input_dbu"):
        load_specs(home)

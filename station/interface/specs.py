"""The table of published interface input levels (calibration/interface_specs.toml)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProfileError

TABLE_NAME = "interface_specs.toml"
BUNDLED = Path(__file__).resolve().parents[2] / "calibration" / TABLE_NAME  # the repo's table


@dataclass(frozen=True)
class InterfaceSpec:
    """One spec-sheet row: which input, at which gain, reads 0 dBFS at what dBu."""

    name: str
    input: str
    gain_setting: str
    max_input_dbu: float
    source: str


def load_specs(home: Path | None = None) -> list[InterfaceSpec]:
    """Rows from `<home>/calibration/interface_specs.toml`, else the table shipped in the repo."""
    path = Path(home) / "calibration" / TABLE_NAME if home is not None else BUNDLED
    if not path.is_file():
        path = BUNDLED
    if not path.is_file():
        return []
    try:
        rows = tomllib.loads(path.read_text(encoding="utf-8")).get("interface", [])
        specs = [
            InterfaceSpec(
                str(r["name"]),
                str(r.get("input", "")),
                str(r.get("gain_setting", "")),
                float(r["max_input_dbu"]),
                str(r.get("source", "")),
            )
            for r in rows
        ]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ProfileError(
            f"cannot read the interface table {path}: {exc}",
            "each [[interface]] needs name and max_input_dbu",
        ) from None
    for s in specs:
        if not math.isfinite(s.max_input_dbu):
            raise ProfileError(f"{path}: {s.name} has no finite max_input_dbu")
    return specs

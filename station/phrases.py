"""Text that names a setting or an action, worded by whichever face shows it.

The core says what to change, not how a face spells it. A `Phrase` is a
template whose `{key}` fields are either values given with it or words of a
vocabulary: the CLI fills `{anchor_every}` with `--anchor-every`, the TUI with
its field's label, and `str()` with the plain words of `PLAIN` below (for logs
and files both faces read). A vocabulary's word may itself use the phrase's
values (`'station sweep resume {session}'`).

    Phrase("{anchor_every} cannot be negative")
    Phrase("continue it with {sweep_resume}, or choose another name", session="s1")

Every key a core phrase names is in `PLAIN`; `tests/test_phrases.py` checks
that both faces word each of them and that the TUI's words name no flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Any

# Every setting and action the core's texts name, in words that belong to no face.
PLAIN: dict[str, str] = {
    "allow_failed": "confirm to tag anyway",
    "anchor_every": "the anchor interval",
    "batch": "the settings chosen per round",
    "calibrate": "a calibration of the interface",
    "capture_name": "capture name",
    "check": "the checks",
    "choose_level": "choose one of its levels ({first} dBu, ...) or its folder, e.g. {example}",
    "corners": "the corner and centre settings",
    "device_virtual": "use the virtual rig",
    "devices": "the device list",
    "epochs": "the number of epochs",
    "for_players": "the player release to write it for ({releases})",
    "force_value": "",
    "holdout": "the number of held-out settings",
    "holdout_none": "no held-out settings",
    "holdout_some": "some held-out settings",
    "initial": "the number of settings to start with",
    "knob": "a knob drive from 0 to 10",
    "level": "level",
    "levels": "levels 6, 12 and 18 dBu",
    "max_hours": "the time budget in hours",
    "max_minutes": "the time limit in minutes",
    "meter_accuracy": "the meter's stated accuracy",
    "meter_choice": "a manual, virtual or SCPI meter",
    "meter_manual": "the manual meter",
    "meter_scpi": "a SCPI meter and its resource",
    "new_port": "give its new name",
    "on_drift": "drift action",
    "pair": "an input and an output file",
    "patience": "the patience (validations without improvement)",
    "plan": "the planner",
    "plan_for_rig": "the planner, for rig {rig}",
    "port_virtual": "the simulated rig (port virtual)",
    "reamp_dbu": "reamp level",
    "reamp_dbu_for_sweep": "a reamp level",
    "render_input_dbu": "the DI level",
    "render_output_gain": "an output gain of {gain} dB",
    "replace": "confirm replacing it",
    "retakes": "retakes",
    "rig_calibrate": "the rig calibration",
    "rig_calibrate_named": "a rig calibration",
    "rig_status": "the rig's status",
    "session_name": "session name",
    "settings": "settings",
    "signal": "the station's signal",
    "snapshot_setting": "a setting, as name=value for each control to set",
    "snapshots": "one model per setting",
    "stop_below": "the disagreement to stop choosing at",
    "stop_on_fail": "stop-on-fail",
    "stop_sweep": "stop the sweep (the session is kept)",
    "sweep_resume": "resuming the sweep",
    "sweep_resume_port": "resuming the sweep on the rig's new port",
    "sweep_run": "a sweep",
    "switch": "a switch boost with positions off and on",
    "tag_source": "a capture, or levels and fields to set",
    "timing_pair": "a timing reference (a spare output patched into a spare input)",
    "tiny_for": "quick parametric trials",
    "train_capture": "train a single capture on its own",
    "trainer_devices": "the accelerator, devices and strategy asked for",
}


class _Filled(dict[str, str]):
    """Format fields: a field nobody can fill shows its key rather than raising."""

    def __missing__(self, key: str) -> str:
        return key


def _fields(template: str) -> list[str]:
    """The field names a template uses, in order."""
    return [name for _, name, _, _ in Formatter().parse(template) if name]


class Phrase:
    """A template over values and vocabulary keys, rendered by a face's words."""

    def __init__(self, template: str = "", **values: Any) -> None:
        self.template = template
        self.values = {k: str(v) for k, v in values.items()}

    @classmethod
    def plain(cls, text: str) -> Phrase:
        """Text that names nothing: its braces are kept as they are."""
        return cls(text.replace("{", "{{").replace("}", "}}"))

    @property
    def keys(self) -> list[str]:
        """The vocabulary keys this phrase names (its fields that are not values)."""
        return [k for k in _fields(self.template) if k not in self.values]

    def render(self, words: Mapping[str, str]) -> str:
        """The phrase in one face's words; a key the words lack falls back to `PLAIN`."""
        values = _Filled(self.values)
        filled = _Filled(values)
        for key in self.keys:
            word = words.get(key, PLAIN.get(key, key))
            filled[key] = word.format_map(values)
        return self.template.format_map(filled)

    def __str__(self) -> str:
        return self.render(PLAIN)

    def __contains__(self, text: str) -> bool:
        return text in str(self)

    def __bool__(self) -> bool:
        return bool(self.template)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other
        return (
            isinstance(other, Phrase)
            and self.template == other.template
            and self.values == other.values
        )

    def __hash__(self) -> int:
        return hash(self.template)

    def __repr__(self) -> str:
        return f"Phrase({self.template!r}, **{self.values!r})"

    def __add__(self, other: str | Phrase) -> Phrase:
        other = as_phrase(other)
        clash = {
            k for k in self.values.keys() & other.values.keys() if self.values[k] != other.values[k]
        }
        if clash:
            raise ValueError(f"phrases disagree on the values of {sorted(clash)}")
        return Phrase(self.template + other.template, **{**self.values, **other.values})

    def __radd__(self, other: str) -> Phrase:
        return as_phrase(other) + self


def as_phrase(text: str | Phrase) -> Phrase:
    """A phrase as it is, or plain text as a phrase that names nothing."""
    return text if isinstance(text, Phrase) else Phrase.plain(text)

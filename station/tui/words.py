"""The TUI's words for what the core's texts name: its screens, fields and buttons, never a flag."""

from __future__ import annotations

from ..errors import StationError
from ..phrases import Phrase, as_phrase

WORDS: dict[str, str] = {
    "allow_failed": "confirm to tag anyway",
    "anchor_every": "the anchor interval",
    "batch": "Batch",
    "calibrate": "the Calibrate screen",
    "capture_name": "Capture name",
    "check": "the checks (open it on the Results screen)",
    "choose_level": "choose one of its levels: {pack}/…",
    "corners": "the corner and centre settings",
    "device_virtual": "choose the virtual rig's device",
    "devices": "the Device and Port lists",
    "epochs": "Epochs",
    "for_players": "the player release to write it for ({releases})",
    "force_value": "",
    "holdout": "the number of held-out settings",
    "holdout_none": "no held-out settings",
    "holdout_some": "some held-out settings",
    "initial": "Initial",
    "knob": "a knob drive from 0 to 10",
    "level": "Reamp level",
    "levels": "levels 6, 12 and 18 dBu",
    "max_hours": "Max hours",
    "max_minutes": "Max minutes",
    "meter_accuracy": "the Meter accuracy field",
    "meter_choice": "a manual, virtual or SCPI Meter",
    "meter_manual": "the manual Meter",
    "meter_scpi": "a SCPI Meter and its SCPI resource",
    "new_port": "type its new name under New port and press Use port",
    "on_drift": "drift action",
    "pair": "an input and an output file",
    "plan": "the Plan tab of the Sweep screen",
    "plan_for_rig": "the Plan tab of the Sweep screen, for rig {rig}",
    "patience": "the patience (validations without improvement)",
    "port_virtual": "Port virtual for the simulated rig",
    "reamp_dbu": "Reamp dBu",
    "reamp_dbu_for_sweep": "a Reamp dBu",
    "render_input_dbu": "the DI level",
    "render_output_gain": "an output gain of {gain} dB",
    "replace": "confirm replacing it",
    "retakes": "retakes",
    "rig_calibrate": "the calibration on the Rig screen",
    "rig_calibrate_named": "the calibration on the Rig screen",
    "rig_status": "the Rig screen's status command",
    "session_name": "Session",
    "settings": "Settings",
    "signal": "the station's signal",
    "snapshot_setting": "a setting in the Setting field (e.g. {example})",
    "snapshots": "one model per setting",
    "stop_below": "Stop below",
    "stop_on_fail": "stop-on-fail",
    "stop_sweep": "Stop (Esc) stops (the session is kept)",
    "sweep_resume": "Resume on the Sweep screen",
    "sweep_resume_port": "Resume on the Sweep screen with the rig's new Port",
    "sweep_run": "the Sweep screen",
    "switch": "a switch boost with positions off and on",
    "tag_source": "a capture, or type both levels",
    "timing_pair": "Timing out and Timing in (a spare output patched into a spare input)",
    "tiny_for": "quick parametric trials",
    "train_capture": "train a single capture on its own",
    "trainer_devices": "the accelerator, devices and strategy asked for",
}


def say(text: str | Phrase) -> str:
    """A core text in the TUI's words."""
    return as_phrase(text).render(WORDS)


def said(exc: StationError) -> str:
    """What went wrong, in the TUI's words."""
    return say(exc.said)


def error_text(exc: StationError) -> str:
    """What a notification says for a StationError: the message, then the hint if any."""
    return f"{say(exc.said)}\n{say(exc.advice)}".strip()

"""The CLI's words for what the core's texts name: its flags and commands."""

from __future__ import annotations

from ..errors import StationError
from ..phrases import Phrase, as_phrase

WORDS: dict[str, str] = {
    "allow_failed": "add --allow-failed to tag anyway",
    "anchor_every": "--anchor-every",
    "batch": "--batch",
    "calibrate": "'station calibrate'",
    "capture_name": "--out name",
    "check": "'station check'",
    "choose_level": "choose one with --level {first}, or give its folder, e.g. {example}",
    "corners": "--corners/--centre",
    "device_virtual": "use --device virtual",
    "devices": "'station devices'",
    "epochs": "--epochs",
    "for_players": "--for-players {releases}",
    "force_value": " (add --force if it is really so)",
    "holdout": "--holdout",
    "holdout_none": "--holdout 0",
    "holdout_some": "--holdout K",
    "initial": "--initial",
    "knob": "--knob drive=0:10",
    "level": "--level",
    "levels": "--levels 6,12,18",
    "max_hours": "--max-hours",
    "max_minutes": "--max-minutes",
    "meter_accuracy": '--meter-accuracy "PCT % + COUNTS"',
    "meter_choice": "--meter manual, virtual or scpi:RESOURCE",
    "meter_manual": "--meter manual",
    "meter_scpi": "--meter scpi:RESOURCE",
    "new_port": "type its new name and press Enter",
    "on_drift": "--on-drift",
    "pair": "use --input IN --output OUT for a pair of files",
    "patience": "--patience",
    "plan": "'station plan'",
    "plan_for_rig": "'station plan --rig {rig}'",
    "port_virtual": "--port virtual for the simulated rig",
    "reamp_dbu": "--reamp-dbu",
    "reamp_dbu_for_sweep": "--reamp-dbu P",
    "render_input_dbu": "--input-dbu",
    "render_output_gain": "--output-gain-db {gain}",
    "replace": "add --force to replace it",
    "retakes": "--retakes",
    "rig_calibrate": "'station rig calibrate'",
    "rig_calibrate_named": "'station rig calibrate --port PORT --name {name}'",
    "rig_status": "'station rig status'",
    "session_name": "--out",
    "settings": "--settings",
    "signal": "the station's signal ('station signal')",
    "snapshot_setting": "name=value ... (e.g. {example})",
    "snapshots": "--snapshots",
    "stop_below": "--stop-below",
    "stop_on_fail": "--stop-on-fail",
    "stop_sweep": "Ctrl-C stops (the session is kept)",
    "sweep_resume": "'station sweep resume {session}'",
    "sweep_resume_port": "'station sweep resume {session} --port NEW'",
    "sweep_run": "'station sweep run'",
    "switch": "--switch boost=off,on",
    "tag_source": "--capture DIR or levels and fields to set",
    "timing_pair": "--timing-out K and --timing-in L (a spare output patched into a spare input)",
    "tiny_for": "quick --parametric trials",
    "train_capture": "train a single capture without --parametric/--snapshots",
    "trainer_devices": "--accelerator/--devices/--strategy",
}


def say(text: str | Phrase) -> str:
    """A core text in the CLI's words."""
    return as_phrase(text).render(WORDS)


def error_lines(exc: StationError) -> str:
    """`error: ...` and, when there is one, `hint: ...`, as the CLI prints a StationError."""
    hint = say(exc.advice)
    return f"error: {say(exc.said)}" + (f"\nhint: {hint}" if hint else "")

"""Help: dBu, dBFS peak, and send and return calibration, in plain words."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Markdown

from .base import StationScreen

HELP = """
# What the station measures, in plain words

**dBFS peak** is a digital level: 0 dBFS is the loudest sample a file can hold. A sine
whose peaks just reach full scale is at 0 dBFS peak.

**dBu** is an analog level: 0 dBu is 0.775 volts RMS. Your voltmeter reads volts RMS;
the station turns them into dBu.

**Send calibration** (`send_dbu_at_0dbfs`): how many dBu arrive at the gear's input when
the interface plays a 0 dBFS-peak sine. The station plays a quieter tone, you read the
volts at the end of the cable that plugs into the gear, and it works out the rest.

**Return calibration** (`return_dbu_at_0dbfs`): which dBu reads 0 dBFS at the input that
records the gear. With the send patched straight into the return, the station knows the
level going in and measures the level coming back.

**NAM's definitions**, written into every model the station makes:

* `input_level_dbu` — the dBu at the gear's input for a 1 kHz sine at 0 dBFS peak in the
  model's input. The station plays the reamp file at exactly this level.
* `output_level_dbu` — the dBu of a 1 kHz sine that reads 0 dBFS peak at the interface
  input that recorded the gear.

**For players**: plugin input trim = your interface's max input (dBu) − the model's
`input_level_dbu`, minus any gain you added on the interface. Example: 12.2 − 15 = −2.8 dB.

**Keys**: F1 help · F2 home · F3 calibrate · F4 capture · F6 models · F7 gain staging ·
F10 servo rig · F11 sweep · F5 start · Esc stop · F8 retake · F9 tag a model · Ctrl+Q
quit. On the home screen the letters c, p, m, g, r, s, ? and q work too. Tab moves between
fields; the mouse works everywhere.

**Servo rig** (F10): connect the rig (`virtual` is a simulated one turning the virtual
overdrive's knobs), then for each knob type `knob NAME CHANNEL`, jog with the arrow keys
until the pointer sits on a printed mark, type `mark VALUE`; both ends and any marks
between; `done`, then `save`. `move drive=5 boost=on` turns them; Esc stops and detaches;
`help` lists every command.

**Sweep** (F11), in three tabs. *Plan*: from a rig profile's knobs and switches, a budget
of settings (the held-out ones included), a design method and reamp levels, the station
chooses the settings worth capturing and the order that turns the knobs least, says how
long it will take and saves the plan in the home's `plans` folder; with *Adaptive* ticked
it plans only a space-filling start of *Initial* settings and the sweep chooses the rest
in batches, where quick models disagree most. *Sweep*: its settings
captured one after another; the rig turns the knobs (or you do, with rig `none`), every
take is checked and journalled. *Progress*: the sweep live, then every setting's verdict
and the drift anchors; for an adaptive plan its rounds too. F5 starts, Esc stops (the
session is kept), F8 resumes it at the first setting not done.

**Models from a sweep** (F6, the *Train* tab): *Parametric* trains one model
that takes the knobs as inputs, judged on the held-out settings it never saw; it runs in
hosts built on NAM's core that feed the knobs as channels, in no NAM plugin, and its
snapshots at any setting (Models screen) are standard files. *Snapshots* trains one standard
model per setting; the result says which players load them. A session captured at several reamp
levels trains one level at a time. Training shows each epoch (and the batches inside it),
the ESR so far and the time left; Esc stops at the end of the current epoch and keeps the
best model so far. The result shows the calibration levels the model carries.
"""


class HelpScreen(StationScreen[None]):
    """The help text."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Markdown(HELP)
        yield Footer()

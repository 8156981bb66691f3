"""Running a sweep: per setting move, capture, check, retake, journal; anchors for drift.

Every step is journalled (fsynced) before the next begins, so a sweep killed at
any moment resumes at the first setting not done, with nothing lost and nothing
taken twice (a check a kill cut short is made on resume, from the capture on disk).
The bench is left safe (servos detached) on every way out. The rig is asked where
it is after every take, before the take is accepted: a board that restarted
meanwhile (or a port that went away) means the take is discarded and
the setting taken again once every servo is back (see faults.py). Each passing
capture is compared with the one before it (moved.py): a knob that did not move
is moved away and back and taken again once, then marked suspect.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..capture.checks import Check
from ..capture.redraw import draw_missing
from ..capture.run import CaptureRequest, run_capture
from ..drivers.base import AudioInterface
from ..drivers.rig import RigLost, RigReset
from ..errors import DeviceLost, StationError, Stopped, StreamError
from ..events import Confirm, Emit, Prompt, StopFlag, SweepProgress, Warning_, ignore
from ..phrases import Phrase
from ..plan.design import Setting
from .drift import DriftResult, compare_anchor
from .faults import Faults
from .journal import Journal, SweepState, anchors_unjudged, replay
from .moved import check_alone, compare_with_previous
from .positioner import ManualPositioner, Positioner, SettingUnreachable, describe
from .probes import Prober
from .rounds import Rounds
from .session import Session, committed_capture, discard_partials
from .stepwise import Stepper

MAX_CLIP_PAUSES = 3  # a setting that still clips after this many pauses fails


@dataclass
class SweepSummary:
    """Where a sweep ended: settings by status, suspects, anchor comparisons."""

    session: Path
    done: list[str]
    failed: list[str]
    pending: list[str]
    suspect: list[str]
    drift: list[dict[str, Any]] = field(default_factory=list)
    suspect_reasons: dict[str, str] = field(default_factory=dict)  # id → "drift" | "unmoved"

    @property
    def complete(self) -> bool:
        """True when no setting is left to capture."""
        return not self.pending

    def to_json(self) -> dict[str, Any]:
        """The summary for --json."""
        return {
            "session_dir": str(self.session.resolve()),
            "complete": self.complete,
            "done": self.done,
            "failed": self.failed,
            "pending": self.pending,
            "suspect": self.suspect,
            "suspect_reasons": self.suspect_reasons,
            "anchors": self.drift,
        }


def summarise(session: Session, state: SweepState) -> SweepSummary:
    """A summary of the session's state."""
    ids = [s.id for s in session.schedule]
    by = {k: [i for i in ids if state.status[i] == k] for k in ("done", "failed")}
    pending = [i for i in ids if state.status[i] not in ("done", "failed")]
    suspect = sorted(state.suspect)
    reasons = {i: state.suspect_reason.get(i, "drift") for i in suspect}
    return SweepSummary(
        session.folder, by["done"], by["failed"], pending, suspect, state.anchors, reasons
    )


class SweepRunner:
    """One run (or resumed run) of a session on an interface with a positioner."""

    def __init__(
        self,
        session: Session,
        interface: AudioInterface,
        profile: Any,
        positioner: Positioner,
        reamp_path: Path,
        *,
        emit: Emit = ignore,
        confirm: Confirm | None = None,
        stop: StopFlag | None = None,
        unattended: bool = False,
    ) -> None:
        self.session = session
        # Nobody answers prompts (--yes): a fault only the user can fix fails its setting.
        self.unattended = unattended
        self.interface = interface
        self.profile = profile
        self.positioner = positioner
        self.reamp_path = reamp_path
        self.emit = emit
        self.confirm = confirm or (lambda _p: None)
        self.stop = stop
        self.journal = Journal(session.folder)
        self.ids = [s.id for s in session.schedule]
        self.state = replay(self.journal.read(), self.ids)
        self._patched = False
        self._durations: list[float] = []
        self._last_verdict = "-"
        self._t0 = time.monotonic()
        self._warned: set[str] = set()
        # Report pictures are drawn while the servos move on (one worker, in take order).
        self._reports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-report")
        self.faults = Faults(self.log, self.emit, stop, session.folder, self._drain_reports)
        # Without pots, a move turning several controls goes one at a time, heard after each.
        self.stepper = Stepper(
            session,
            positioner,
            Prober(interface, profile, reamp_path, emit=self._capture_emit),
            self.log,
            self.emit,
            self._capture_confirm,
            lambda sid, exc: self.faults.wait_for_audio(sid, exc, self.interface),
        )
        self.release: Callable[[], None] = lambda: None  # frees the session's and rig's locks
        # An adaptive session's rounds (set by start_sweep/resume_sweep with their models).
        self.rounds: Rounds | None = None

    def _capture_emit(self, event: Any) -> None:
        # The same pre-flight warning for every setting would bury the ones that matter.
        if isinstance(event, Warning_):
            said = str(event.text)
            if said in self._warned:
                return
            self._warned.add(said)
        self.emit(event)

    def log(self, event: str, **fields: Any) -> None:
        """Journal an event durably and fold it into the state."""
        self.state.apply(self.journal.append(event, **fields))

    def run(self, *, resumed: bool = False) -> SweepSummary:
        """Capture every setting not done yet; returns the summary. Raises StationError (the
        session stays resumable) when the rig, the disk or the user stops it."""
        s = self.session
        gone = discard_partials(s.folder)
        self.log(
            "resumed" if resumed else "started",
            rig=self.positioner.label,
            discarded=gone,
            done=self.state.count("done"),
            return_dbu_at_0dbfs=self.profile.return_dbu_at_0dbfs,
        )
        for name in gone:
            self.log("discarded", folder=name)
        try:
            self._recover()
            self.positioner.check(s.schedule)
            # Settings given up on in an earlier run get a fresh set of retakes now. An
            # adaptive session's rounds grow the schedule when the rig reaches its end.
            index = 0
            while index < len(s.schedule) or self._next_batch():
                setting = s.schedule[index]
                index += 1
                if self.state.status[setting.id] == "done":
                    continue
                if self.stop is not None and self.stop.is_set():
                    raise Stopped()
                self._progress(index - 1, setting)
                t0 = time.monotonic()
                ok = self._take_or_fail(setting)
                self._durations.append(time.monotonic() - t0)
                if ok and setting.role == "anchor":
                    self._anchor(index - 1, setting)
                s.save_status(self.state)
                self._progress(index - 1, setting)
                if self.rounds is not None:
                    self.rounds.maybe_start(self.state, self._per_setting_s())
            self.log("finished", **{k: self.state.count(k) for k in ("done", "failed")})
        except (StationError, KeyboardInterrupt, OSError) as exc:
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            try:
                self.log("stopped", reason=reason)
                s.save_status(self.state)
            except OSError:
                pass  # the disk is full: the journal already holds every finished step
            if isinstance(exc, OSError):
                fix = "free some disk space" if exc.errno == errno.ENOSPC else "fix the folder"
                raise StationError(
                    f"the sweep stopped: {reason}; the capture in progress was discarded",
                    Phrase("{fix}, then {sweep_resume}", fix=fix, session=s.name),
                ) from None
            if isinstance(exc, StationError) and not isinstance(exc, Stopped):
                kept = self.how_to_resume()
                exc.advice = exc.advice + "; " + kept if exc.advice else kept
            elif isinstance(exc, Stopped) and self.faults.stopped_waiting:
                exc.advice = self.how_to_resume()
            raise
        finally:
            self.close()
        s.save_status(self.state)
        return summarise(s, self.state)

    def close(self) -> None:
        """Leave the bench safe (servos detached, port closed), let every report picture be
        drawn, and free the session's and the rig's locks; for a runner never run, too."""
        try:
            if self.rounds is not None:
                self.rounds.close()
            self.positioner.close()
            self._reports.shutdown(wait=True)
        finally:
            self.release()

    def _next_batch(self) -> bool:
        """At the end of the schedule: an adaptive session's next batch (True when the
        schedule grew), journalled and saved before it is captured."""
        if self.rounds is None:
            return False
        grew = self.rounds.extend(self.state, self._per_setting_s())
        self.session.save_status(self.state)
        return grew

    def _per_setting_s(self) -> float:
        """What a setting takes: the median of this run's, else the plan's estimate."""
        if self._durations:
            return float(np.median(self._durations))
        r = self.session.plan.request
        return r.capture_s + r.overhead_s

    def how_to_resume(self) -> Phrase:
        """'the session is kept: ...' with how to go on from here: on the rig's new port when
        it came back under another name, or the sweep stopped waiting for it."""
        s = self.session.name
        kept = Phrase("the session is kept: {sweep_resume} goes on from here", session=s)
        if self.faults.rig_moved_port or self.faults.stopped_waiting == "rig":
            kept += Phrase(" ({sweep_resume_port} if the rig has another name now)", session=s)
        return kept

    def _recover(self) -> None:
        """Adopt captures finished but not journalled (killed between commit and journal);
        draw the report pictures a kill left undrawn, while the sweep goes on."""
        self._report_later(self._draw_missing)
        for setting in self.session.schedule:
            sid = setting.id
            if self.state.status[sid] not in ("pending", "captured"):
                continue
            meta = committed_capture(self.session.folder, sid)
            if meta is None or (self.state.status[sid] == "captured" and not meta.get("passed")):
                continue
            if self.state.status[sid] == "pending":
                self.log("recovered", id=sid, passed=bool(meta.get("passed")), take=0)
            if meta.get("passed"):
                self._recover_judged(setting, meta)
        self._recover_anchors()

    def _recover_anchors(self) -> None:
        """Make the drift checks a stop cut short (the anchor accepted, its comparison or
        the suspects that follow from it not journalled), from the anchor on disk: it is
        never taken again."""
        sched, opts = self.session.schedule, self.session.options
        anchors = [s.id for s in sched if s.role == "anchor"]
        due = anchors_unjudged(self.journal.read(), anchors)
        for index, setting in enumerate(sched):
            if setting.id not in due or self.state.status[setting.id] != "done":
                continue
            compared = due[setting.id]
            if compared is None:
                self._anchor(index, setting)
                continue
            d = DriftResult(
                setting.id,
                str(compared["reference"]),
                float(compared["esr"]),
                float(compared["level_change_db"]),
                opts.drift_esr_max,
                opts.drift_level_db_max,
            )
            self._drifted(index, d)

    def _draw_missing(self) -> None:
        for note in draw_missing(self.session.folder):
            self.emit(Warning_(note))

    def _capture_confirm(self, prompt: Prompt) -> None:
        # The gear is patched once for the whole sweep; later captures need no Enter.
        if prompt.kind == "patch_gear" and self._patched:
            return
        self._patched = self._patched or prompt.kind == "patch_gear"
        self.confirm(prompt)

    def _take_or_fail(self, setting: Setting) -> bool:
        """`_take`; a setting the rig cannot reach fails (False) and the sweep goes on."""
        try:
            return self._take(setting)
        except SettingUnreachable as exc:
            return self._give_up(setting.id, 0, exc.message)

    def _move_to(self, setting: Setting) -> dict[str, Any]:
        """Put the gear at `setting` (see Positioner.set): after a board reset every servo is
        put back with the move; a port that went away is waited for."""
        while True:
            try:
                moved = self.stepper.set(setting, self.state, stop=self.stop)
            except RigReset as exc:
                self.faults.reset(setting.id, "move", exc)
                continue
            except RigLost as exc:
                self.faults.wait_for_rig(setting.id, exc, self.positioner)
                continue
            for stall in moved.get("stalled", []):
                self.emit(
                    Warning_(
                        f"{setting.id}: the servo on {stall['control']} stalled; it was let go "
                        f"and moved again at {stall['retried_us_per_s']} µs/s, and got there"
                    )
                )
            return moved

    def _accepted(self, setting: Setting) -> bool:
        """After a take, before it is journalled: True when the rig still holds the setting.
        If its board restarted (or its port went away, or it reports other pulses) the take
        may have begun with the servos anywhere: it is discarded, the gear is put back at
        the setting, and False says to take it again."""
        verify = getattr(self.positioner, "verify", None)
        if verify is None:
            return True
        sid = setting.id
        try:
            if verify(setting):
                return True
            self.faults.discard_take(sid)
            gone = RigReset("the rig reports other pulses than it was sent", "")
            self.faults.reset(sid, "take", gone)
        except RigReset as exc:
            self.faults.discard_take(sid)
            self.faults.reset(sid, "take", exc)
        except RigLost as exc:
            self.faults.discard_take(sid)
            self.faults.wait_for_rig(sid, exc, self.positioner)
        moved = self._move_to(setting)
        moved.pop("controls", None)
        self.log("moved", id=sid, **moved)
        return False

    def _drain_reports(self) -> None:
        """Wait until every report picture queued so far is drawn."""
        self._reports.submit(lambda: None).result()

    def _take(self, setting: Setting) -> bool:
        """Move to the setting and capture it, retaking up to the limit; True when it passed.

        A clipped return is never retaken blindly: the sweep pauses with the advice
        (unattended, the setting fails at once and the sweep goes on). An interface that
        went away is waited for, then the take is played again.
        """
        opts, sid = self.session.options, setting.id
        moved = self._move_to(setting)
        controls = moved.pop("controls", None)
        self.log("moved", id=sid, **moved)
        sweep: dict[str, object] = {"session": self.session.name, "id": sid, "role": setting.role}
        if controls is not None:
            sweep["rig_controls"] = controls
            sweep["left_alone"] = [k for k, c in controls.items() if not c["set_by_plan"]]
        retakes = pauses = 0
        while True:
            req = CaptureRequest(
                self.profile,
                self.reamp_path,
                self.session.level_of(setting),
                sid,
                self.session.folder,
                force=True,  # a failed earlier take is replaced only once this one is whole
                gear=dict(opts.gear),
                virtual_gear=opts.virtual_gear,
                knobs=dict(setting.knobs),
                switches=dict(setting.switches),
                sweep=sweep,
                report_later=self._report_later,
            )
            try:
                result = run_capture(
                    self.interface,
                    req,
                    emit=self._capture_emit,
                    confirm=self._capture_confirm,
                    stop=self.stop,
                )
            except StreamError as exc:
                reason = f"spoilt take: {exc.message}"
            except DeviceLost as exc:
                self.faults.wait_for_audio(sid, exc, self.interface)
                continue  # nothing of it was kept: take it again (not one of the retakes)
            else:
                if not self._accepted(setting):
                    continue  # discarded: the rig is back at the setting, take it again
                failed = [c.name for c in result.checks if c.status == "fail"]
                self.log(
                    "captured",
                    id=sid,
                    passed=result.passed,
                    capture_dir=sid,
                    failed_checks=failed,
                    reamp_dbu=req.reamp_dbu,
                )
                if result.passed:
                    return self._check_moved(setting)
                self.log("checked", id=sid, passed=False)
                self._last_verdict = f"{sid} failed"
                reason = f"failed checks: {', '.join(failed)}"
                clip = clipped(result.checks)
                if clip is not None and not self.unattended and pauses < MAX_CLIP_PAUSES:
                    pauses += 1
                    self._pause_for_clip(sid, clip)
                    continue  # the user acted: take it again (not one of the retakes)
                if clip is not None:
                    reason = f"{reason} ({clip.message})"
                    return self._give_up(sid, retakes, reason)
            if retakes < opts.retakes:
                retakes += 1
                self.log("retaken", id=sid, retake=retakes, reason=reason)
                self.emit(Warning_(f"{sid}: {reason}; retake {retakes} of {opts.retakes}"))
                continue
            return self._give_up(sid, retakes, reason)

    def _check_moved(self, setting: Setting) -> bool:
        """Compare a passing capture with the one accepted before it, journal the comparison,
        then accept it, or (the knob did not move) move away and back and take it again once,
        then mark it suspect. True: the capture passed its checks."""
        sid = setting.id
        try:
            check = compare_with_previous(self.session, self.state, setting)
        except LookupError:  # the first capture: nothing to compare with, but pots may say
            found = check_alone(self.session, self.state, setting)
            if found is None:
                return self._accept(sid)
            check = found
        except StationError as exc:
            self.emit(Warning_(f"{sid}: not compared with the setting before it: {exc.message}"))
            return self._accept(sid)
        said = {"message": check.message()} if check.unmoved else {}
        # Which take was compared: a retake a kill left unjournalled is told apart on resume.
        taken = (committed_capture(self.session.folder, sid) or {}).get("finished")
        self.log("compared", **check.to_json(), capture_finished=taken, **said)
        return self._judged(setting, check.unmoved, check.message())

    def _judged(self, setting: Setting, unmoved: bool, message: str) -> bool:
        """Act on a comparison: accept; retake after moving away and back (the first time this
        capture of the setting sounded unmoved); or accept it marked suspect (the second)."""
        sid = setting.id
        if not unmoved:
            return self._accept(sid)
        if self.state.unmoved.get(sid, 0) < 2:
            self._last_verdict = f"{sid} unmoved? retaking"
            self.emit(Warning_(f"{message}; moving it away and back, and taking it again"))
            self.log("retaken", id=sid, retake=1, reason=f"unmoved: {message}")
            self._move_away(setting)
            return self._take(setting)
        self._accept(sid)
        self.log("suspect", ids=[sid], reason="unmoved", message=message)
        self._last_verdict = f"{sid} suspect (unmoved)"
        self.emit(
            Warning_(
                f"{message}; still the same after moving it away and back: marked suspect "
                "(unmoved) and left out of training"
            )
        )
        return True

    def _accept(self, sid: str) -> bool:
        self.log("checked", id=sid, passed=True)
        self._last_verdict = f"{sid} passed"
        return True

    def _move_away(self, setting: Setting) -> None:
        """Move the rig to the setting accepted before `setting` (a horn that slipped catches
        its knob again on the way back); by hand, the next move prompts again."""
        before = self.state.last_accepted
        if before is None or isinstance(self.positioner, ManualPositioner):
            return
        away = self.positioner.set(self.session.setting(before), stop=self.stop)
        away.pop("controls", None)
        self.log("moved", id=setting.id, away_to=before, **away)

    def _recover_judged(self, setting: Setting, meta: dict[str, Any]) -> None:
        """Go on with a passing capture found on disk: compare it if it never was (a retake
        the kill left unjournalled is adopted first), else act on the comparison the journal
        holds (the kill came before its outcome)."""
        sid = setting.id
        last = next((e for e in reversed(self.state.changes) if e.get("id") == sid), None)
        if sid in self.state.uncompared:
            self._check_moved(setting)
        elif last is None or last.get("capture_finished") != meta.get("finished"):
            self.log("recovered", id=sid, passed=True, take=0)
            self._check_moved(setting)
        else:
            self._judged(setting, bool(last.get("unmoved")), str(last.get("message", "")))

    def _give_up(self, sid: str, retakes: int, reason: str) -> bool:
        """Mark a setting failed and go on (False), or stop when the options say so."""
        self.log("failed", id=sid, reason=reason)
        self._last_verdict = f"{sid} FAILED ({reason})"
        self.emit(Warning_(f"{sid} failed after {retakes} retake(s): {reason}"))
        if self.session.options.stop_on_fail:
            raise StationError(
                f"setting {sid} failed after {retakes} retake(s) ({reason}); stopped as "
                + Phrase("{stop_on_fail} asks"),
                "fix the gear or patch",
            )
        return False

    def _pause_for_clip(self, sid: str, clip: Check) -> None:
        """Say why a retake as things stand would clip again, and wait for the user."""
        self.log("paused", id=sid, reason=clip.message)
        self._last_verdict = f"{sid} clipped: paused"
        self.emit(Warning_(f"{sid}: {clip.message}"))
        self.confirm(
            Prompt(
                "return_clipped",
                f"{sid}: the return clipped ({clip.value:.2f} dBFS), so a retake as things "
                "stand would clip again. Turn the loadbox output down and press Enter to "
                "retake. If you turn the interface's input gain down instead, the return must "
                "be measured again: stop the sweep, calibrate the interface again (same "
                "profile name) and resume the session; it takes the new return level.",
            )
        )

    def _anchor(self, index: int, setting: Setting) -> None:
        """Compare this anchor with the first one; on drift warn, mark suspects, react."""
        opts, sched = self.session.options, self.session.schedule
        anchors = [s for s in sched if s.role == "anchor" and self.state.status[s.id] == "done"]
        reference = anchors[0]
        if reference.id == setting.id:
            return
        d = compare_anchor(
            self.session.folder,
            setting.id,
            reference.id,
            esr_max=opts.drift_esr_max,
            level_db_max=opts.drift_level_db_max,
        )
        self.log(
            "anchor_compared",
            id=setting.id,
            reference=reference.id,
            esr=d.esr,
            level_change_db=d.level_change_db,
            drifted=d.drifted,
        )
        if d.drifted:
            self._drifted(index, d)

    def _drifted(self, index: int, d: DriftResult) -> None:
        """Mark the settings since the last good anchor suspect, warn, and react."""
        suspects = self._since_last_good_anchor(index)
        self.log("suspect", ids=suspects, anchor=d.anchor_id)
        listed = ", ".join(suspects) or "none"
        self.emit(
            Warning_(f"{d.message()}; settings since the last good anchor marked suspect: {listed}")
        )
        self._react(d, suspects)

    def _since_last_good_anchor(self, index: int) -> list[str]:
        """Settings done between the last good anchor before `index` and `index`."""
        drifted = {e["id"] for e in self.state.anchors if e.get("drifted")}
        sched, start = self.session.schedule, 0
        for i in range(index - 1, -1, -1):
            s = sched[i]
            if s.role == "anchor" and self.state.status[s.id] == "done" and s.id not in drifted:
                start = i + 1
                break
        return [
            s.id
            for s in sched[start:index]
            if s.role != "anchor" and self.state.status[s.id] == "done"
        ]

    def _react(self, d: DriftResult, suspects: list[str]) -> None:
        policy = self.session.options.on_drift
        if policy == "pause":
            self.confirm(
                Prompt(
                    "drift_pause",
                    f"Drift: {d.message()}. Let the gear settle, then press Enter to go on.",
                )
            )
        elif policy == "recapture":
            for sid in suspects:
                self.emit(Warning_(f"recapturing {sid} after the drift"))
                self._take_or_fail(self.session.setting(sid))

    def _report_later(self, job: Callable[[], None]) -> None:
        """Draw a take's report off the sweep's thread: the next setting need not wait."""
        self._reports.submit(job)

    def _progress(self, index: int, setting: Setting) -> None:
        left = sum(1 for s in self.session.schedule[index:] if self.state.status[s.id] != "done")
        mean = sum(self._durations) / len(self._durations) if self._durations else None
        self.emit(
            SweepProgress(
                index,
                len(self.session.schedule),
                setting.id,
                setting.role,
                dict(setting.knobs),
                dict(setting.switches),
                setting.reamp_dbu,
                self.state.count("done"),
                self.state.count("failed"),
                self._last_verdict,
                time.monotonic() - self._t0,
                None if mean is None else mean * left,
            )
        )


def clipped(found: list[Check]) -> Check | None:
    """The return_peak check that failed because the return clipped, if one did (a retake
    cannot fix it: only the loadbox output or the interface gain can)."""
    for c in found:
        if c.name == "return_peak" and c.status == "fail" and c.value is not None:
            return c
    return None


def progress_line(p: SweepProgress) -> str:
    """One line for a terminal: position, setting, values, last verdict, ETA."""
    eta = "?" if p.remaining_s is None else f"{p.remaining_s / 60:.1f} min"
    values = describe(Setting(p.setting_id, p.knobs, p.switches, p.reamp_dbu, p.role))
    return (
        f"[{p.index + 1}/{p.total}] {p.setting_id} ({p.role}) {values} · done {p.done}, "
        f"failed {p.failed} · last: {p.last_verdict} · ETA {eta}"
    )

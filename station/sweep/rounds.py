"""An adaptive sweep's rounds: train quick models in the background, choose each next batch
where they disagree most, journal every choice, and grow the schedule with it.

Round 1 trains once the plan's initial training settings are captured; each later round
starts as soon as the batch before it is chosen, on what is captured by then, so its
models learn while the rig captures that batch (the rig waits only when training takes
longer than a batch). A round's start (`round_started`, with the settings it trains on)
and its choice (`chosen`, with the settings, their scores and the pool's disagreement)
are journalled: a resumed sweep keeps every choice made and retrains only a round that
was cut short, on the same settings. The rounds end at the settings budget, at the time
budget, or when the models agree everywhere (`adaptive_done`, with the reason).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import StationError, Stopped
from ..events import Emit, Step, StopFlag, Warning_
from ..fsutil import write_json
from ..plan.adaptive import (
    Candidate,
    RoundModels,
    RoundScores,
    candidate_of,
    choose,
    chosen_setting,
    distance,
    pool,
)
from ..plan.adaptive_spec import AdaptiveSpec
from ..plan.design import Setting
from ..plan.setup import hms
from .journal import Journal, SweepState
from .session import Session, schedule_entry

WAIT_POLL_S = 0.2  # how often a wait for a round's models looks for a stop


def adaptive_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds as the journal has them: started (round → settings trained on), chosen
    (round → its `chosen` event) and done (the `adaptive_done` event, or None)."""
    out: dict[str, Any] = {"started": {}, "chosen": {}, "done": None}
    for e in events:
        kind = e["event"]
        if kind == "round_started":
            out["started"][int(e["round"])] = list(e["settings"])
        elif kind == "chosen":
            out["chosen"][int(e["round"])] = e
        elif kind == "adaptive_done":
            out["done"] = e
    return out


class Rounds:
    """The rounds of one adaptive session, driven by its runner (on the runner's thread;
    only training runs on another)."""

    def __init__(
        self,
        session: Session,
        models: RoundModels,
        log: Callable[..., None],
        events: Callable[[], list[dict[str, Any]]],
        emit: Emit,
        stop: StopFlag | None,
    ) -> None:
        spec = session.plan.request.adaptive
        if spec is None:
            raise StationError(f"{session.name} is not an adaptive session")
        self.session = session
        self.spec: AdaptiveSpec = spec
        self.req = session.plan.request
        self.models = models
        self.log = log
        self.events = events
        self.emit = emit
        self.user_stop = stop
        self.stop = StopFlag()  # the training's own: set by the user's stop or by close()
        self.holdout = sum(s.role == "holdout" for s in session.schedule)
        self.pool = pool(self.req, seed=self.req.seed)
        self._thread: threading.Thread | None = None
        self._training: int | None = None  # the round its thread trains
        self._result: RoundScores | BaseException | None = None

    # -- what the journal says -------------------------------------------------

    def _journal(self) -> dict[str, Any]:
        return adaptive_events(self.events())

    def chosen_count(self, j: dict[str, Any]) -> int:
        """Training settings the rounds have chosen so far."""
        return sum(sum(s["role"] == "train" for s in e["settings"]) for e in j["chosen"].values())

    def next_round(self, j: dict[str, Any]) -> int:
        """The round whose batch is not chosen yet."""
        return max(j["chosen"], default=0) + 1

    def left(self, j: dict[str, Any]) -> int:
        """Training settings the rounds may still choose."""
        return self.spec.chosen_budget(self.holdout) - self.chosen_count(j)

    def _usable(self, state: SweepState) -> list[str]:
        """The training settings captured, passed and not suspect: what models learn from."""
        return sorted(
            s.id
            for s in self.session.schedule
            if s.role == "train" and state.status.get(s.id) == "done" and s.id not in state.suspect
        )

    # -- training in the background --------------------------------------------

    def maybe_start(self, state: SweepState, per_setting_s: float, force: bool = False) -> None:
        """Start training the next round when it is due and nothing trains: a round cut
        short, on the settings it started with; round 1 once the initial training settings
        are all taken (captured or failed); a later one once what is left to capture takes
        about as long as the last round trained (`per_setting_s` a setting), so its models
        see as much of the batch before as they can without the rig waiting. `force`
        starts it now (the rig has nothing left to capture)."""
        if self._thread is not None:
            return
        j = self._journal()
        if j["done"] is not None or self.left(j) <= 0:
            return
        r = self.next_round(j)
        ids = j["started"].get(r)
        if ids is None:
            todo = sum(
                state.status.get(s.id) in ("pending", "captured") for s in self.session.schedule
            )
            if (
                r == 1
                and not force
                and any(
                    s.role == "train" and state.status.get(s.id) in ("pending", "captured")
                    for s in self.session.schedule
                )
            ):
                return
            ids = self._usable(state)
            if (
                r > 1
                and not force
                and (ids == j["started"].get(r - 1) or todo * per_setting_s > self._training_s(j))
            ):
                return
            if len(ids) < 2:
                return  # the choice falls back on spacing (see extend)
            self.log("round_started", round=r, settings=ids)
        self._launch(r, ids)

    def _training_s(self, j: dict[str, Any]) -> float:
        """How long the last round's models took, in seconds (0 before any)."""
        took = [e.get("minutes") for _, e in sorted(j["chosen"].items()) if e.get("minutes")]
        return 60.0 * float(took[-1]) if took else 0.0

    def _launch(self, r: int, ids: list[str]) -> None:
        self._training, self._result = r, None

        def work() -> None:
            try:
                self._result = self.models(
                    self.session.folder,
                    r,
                    ids,
                    self.pool,
                    self.req,
                    self.spec.members,
                    self.stop,
                    self._quiet_emit,
                )
            except BaseException as exc:  # handed to the runner's thread, which decides
                self._result = exc

        self.emit(
            Step(
                "round",
                f"Round {r}: training {self.spec.members} quick models on "
                f"{len(ids)} settings in the background",
            )
        )
        self._thread = threading.Thread(target=work, name=f"round-{r}", daemon=True)
        self._thread.start()

    def _quiet_emit(self, event: object) -> None:
        # Training's own steps and progress would bury the captures' lines.
        if isinstance(event, Warning_):
            self.emit(event)

    def _wait(self, r: int) -> RoundScores | BaseException | None:
        """The result of round r's training, waiting for it (None when none was started)."""
        if self._thread is None or self._training != r:
            return None
        if self._thread.is_alive():
            self.emit(Step("round", f"Round {r}: waiting for its models to finish training"))
        while self._thread.is_alive():
            if self.user_stop is not None and self.user_stop.is_set():
                self.stop.set()
            self._thread.join(WAIT_POLL_S)
        self._thread, self._training = None, None
        return self._result

    def close(self) -> None:
        """Stop a round in training (its finished models are kept for a resume)."""
        self.stop.set()
        if self._thread is not None:
            if self._thread.is_alive():
                self.emit(
                    Step(
                        "round",
                        f"Round {self._training}: stopping its training (the models it "
                        "finished are kept for a resume)",
                    )
                )
            self._thread.join(60.0)
            self._thread = None

    # -- choosing --------------------------------------------------------------

    def extend(self, state: SweepState, per_setting_s: float) -> bool:
        """At the end of the schedule: choose the next batch (waiting for its models when
        they are still training), journal it and append it; True when settings were added.
        `per_setting_s` is what one setting takes, for the time budget."""
        j = self._journal()
        if j["done"] is None:
            reason = self._why_done(j, per_setting_s)
            if reason is None:
                return self._choose(state, j, per_setting_s)
            return self._done(state, j, reason)
        return self._final_anchor(state)

    def _done(self, state: SweepState, j: dict[str, Any], reason: str, **extra: Any) -> bool:
        """Journal and say that the rounds end, and why; then the last anchor if due."""
        self.log("adaptive_done", reason=reason, chosen=self.chosen_count(j), **extra)
        self.emit(Step("round", f"Adaptive rounds done: {reason}"))
        return self._final_anchor(state)

    def _why_done(self, j: dict[str, Any], per_setting_s: float) -> str | None:
        left = self.left(j)
        if left <= 0:
            return f"the budget of {self.spec.settings} settings is used"
        if self.spec.max_hours is not None:
            began = self._began()
            batch = min(self.spec.batch, left)
            if began is not None:
                elapsed = (dt.datetime.now().astimezone() - began).total_seconds()
                if elapsed + batch * per_setting_s > self.spec.max_hours * 3600:
                    return (
                        f"another batch would pass the time budget of {self.spec.max_hours:g} h "
                        f"({elapsed / 3600:.2f} h so far)"
                    )
        return None

    def _began(self) -> dt.datetime | None:
        for e in self.events():
            if e["event"] == "started":
                return dt.datetime.fromisoformat(str(e["time"]))
        return None

    def _choose(self, state: SweepState, j: dict[str, Any], per_setting_s: float) -> bool:
        r = self.next_round(j)
        self.maybe_start(state, per_setting_s, force=True)
        result = self._wait(r)
        if isinstance(result, Stopped) or (self.user_stop is not None and self.user_stop.is_set()):
            raise Stopped()
        fallback = None
        if isinstance(result, RoundScores):
            scores = np.asarray(result.disagreement, dtype=float)
        else:
            fallback = (
                f"its models failed ({getattr(result, 'message', None) or result})"
                if result is not None
                else "fewer than two usable training settings to train models on"
            )
            self.log("round_failed", round=r, reason=fallback)
            self.emit(Warning_(f"round {r}: {fallback}; the next batch is chosen by spacing alone"))
            scores = np.ones(len(self.pool))
        worst = float(np.max(scores)) if len(scores) else 0.0
        if fallback is None and self.spec.stop_below is not None and worst < self.spec.stop_below:
            reason = f"the models agree everywhere (worst disagreement {worst:.2g})"
            return self._done(state, j, reason, worst=worst)
        captured = [
            candidate_of(self.req, s)
            for s in self.session.schedule
            if s.role == "train" and state.status.get(s.id) != "failed"
        ]
        batch = min(self.spec.batch, self.left(j))
        choice = choose(self.pool, scores, captured, batch)
        if not choice.picked:
            return self._done(state, j, "no candidate is left apart from the captured ones")
        self._write_scores(r, scores, choice.picked)
        picked = self._by_travel([self.pool[i] for i in choice.picked])
        settings = self._new_settings(picked)
        settings += self._anchor_if_due(settings)
        self.log(
            "chosen",
            round=r,
            settings=[s.to_json() for s in settings],
            scores=[round(v, 6) for v in choice.scores],
            worst=worst,
            median=float(np.median(scores)) if len(scores) else 0.0,
            fallback=fallback,
            minutes=round(result.minutes, 2) if isinstance(result, RoundScores) else None,
            members=result.members if isinstance(result, RoundScores) else None,
        )
        self._append(settings, r)
        said = ", ".join(s.id for s in settings if s.role == "train")
        why = "by spacing" if fallback else f"worst disagreement {worst:.2g}"
        self.emit(Step("round", f"Round {r} chose {said} ({why})"))
        self.maybe_start(state, per_setting_s)  # may learn while the rig captures this batch
        return True

    def _write_scores(self, r: int, scores: np.ndarray, picked: list[int]) -> None:
        """Every candidate's disagreement in round r, and which were picked, beside the
        round's models (`adaptive/round-<N>/scores.json`): the journal keeps the batch."""
        knobs = [k.name for k in self.req.knobs]
        switches = [w.name for w in self.req.switches]
        folder = self.session.folder / "adaptive" / f"round-{r}"
        folder.mkdir(parents=True, exist_ok=True)  # a round whose models failed has none
        write_json(
            folder / "scores.json",
            {
                "round": r,
                "controls": knobs + switches,
                "candidates": [
                    [*(round(v, 4) for v in c.knobs(self.req).values()), *c.switches]
                    for c in self.pool
                ],
                "disagreement": [round(float(v), 6) for v in scores],
                "picked": picked,
            },
        )

    def _by_travel(self, picked: list[Candidate]) -> list[Candidate]:
        """The batch in capture order: each next the nearest to the one before (knob travel
        as the sweep measures it), from where the schedule ends."""
        if not self.session.schedule:
            return picked
        here = candidate_of(self.req, self.session.schedule[-1])
        out: list[Candidate] = []
        rest = list(picked)
        while rest:
            nearest = min(rest, key=lambda c: distance(here, c))
            rest.remove(nearest)
            out.append(nearest)
            here = nearest
        return out

    def _new_settings(self, picked: list[Candidate]) -> list[Setting]:
        numbers = [int(s.id[1:]) for s in self.session.schedule if _numbered(s.id, "s")]
        n = max(numbers, default=0)
        return [chosen_setting(self.req, c, f"s{n + k:03d}") for k, c in enumerate(picked, 1)]

    def _anchor_if_due(self, batch: list[Setting]) -> list[Setting]:
        """An anchor after the batch when `anchor_every` settings have passed since the last."""
        every = self.req.anchor_every
        since = 0
        for s in reversed(self.session.schedule):
            if s.role == "anchor":
                break
            since += 1
        if every > 0 and since + len(batch) >= every:
            return [self._anchor()]
        return []

    def _anchor(self) -> Setting:
        last = next(s for s in reversed(self.session.schedule) if s.role == "anchor")
        numbers = [int(s.id[1:]) for s in self.session.schedule if _numbered(s.id, "a")]
        return Setting(
            f"a{max(numbers, default=0) + 1:02d}",
            dict(last.knobs),
            dict(last.switches),
            last.reamp_dbu,
            "anchor",
        )

    def _final_anchor(self, state: SweepState) -> bool:
        """After the last batch: one more anchor when settings were taken after the last."""
        sched = self.session.schedule
        if not sched or sched[-1].role == "anchor" or not any(s.role == "anchor" for s in sched):
            return False
        anchor = self._anchor()
        self.log("chosen", round=0, settings=[anchor.to_json()], final=True)
        self._append([anchor], 0)
        return True

    def _append(self, settings: list[Setting], round_no: int) -> None:
        """Add a batch to the schedule; session.json's copy notes the round that chose each
        training setting (`round`), for reports."""
        self.session.schedule.extend(settings)
        self.session.data.setdefault("schedule", []).extend(
            schedule_entry(s.to_json(), round_no) for s in settings
        )


def _numbered(setting_id: str, prefix: str) -> bool:
    return setting_id.startswith(prefix) and setting_id[1:].isdigit()


def rounds_report(session: Session, state: SweepState, per_setting_s: float) -> dict[str, Any]:
    """An adaptive session's rounds for `sweep status` and the TUI (docs/files.md): each
    round's batch and figures, the round training now, why the rounds ended, what the budget
    has left and the time that is estimated to take. Empty for a session that is not
    adaptive."""
    spec = session.plan.request.adaptive
    if spec is None:
        return {}
    events = Journal(session.folder).read()
    j = adaptive_events(events)
    holdout = sum(s.role == "holdout" for s in session.schedule)
    # A run is under way when its last start or resume was not followed by its end.
    ends = ("started", "resumed", "stopped", "finished")
    runs = [e["event"] for e in events if e["event"] in ends]
    running = bool(runs) and runs[-1] in ("started", "resumed")
    rounds = [
        {
            "round": r,
            "chosen": [s["id"] for s in e["settings"] if s["role"] == "train"],
            "worst": e.get("worst"),
            "median": e.get("median"),
            "minutes": e.get("minutes"),
            "fallback": e.get("fallback"),
        }
        for r, e in sorted(j["chosen"].items())
        if r > 0
    ]
    chosen = sum(len(r["chosen"]) for r in rounds)
    left = 0 if j["done"] is not None else max(0, spec.chosen_budget(holdout) - chosen)
    todo = sum(state.status.get(s.id) in ("pending", "captured") for s in session.schedule)
    training = [r for r in j["started"] if r not in j["chosen"]]
    return {
        "budget": spec.settings,
        "initial": spec.initial,
        "holdout": holdout,
        "batch": spec.batch,
        "chosen": chosen,
        "left": left,
        "rounds": rounds,
        "training": training[0] if training and running else None,
        "cut_short": training[0] if training and not running else None,
        "done": None if j["done"] is None else j["done"].get("reason"),
        "estimated_left_s": (todo + left) * per_setting_s,
    }


def round_of_setting(report: dict[str, Any]) -> dict[str, int]:
    """The round that chose each setting, by setting id (from rounds_report)."""
    return {i: r["round"] for r in report.get("rounds", []) for i in r["chosen"]}


def rounds_lines(report: dict[str, Any], last: int | None = None) -> list[str]:
    """The rounds report in a few plain lines (both faces show them as they are); with
    `last`, only the last rounds' batches are listed (the head counts them all, and the
    trend covers them all)."""
    if not report:
        return []
    head = (
        f"Adaptive: {len(report['rounds'])} round(s) chose {report['chosen']} setting(s) "
        f"after {report['initial']} to start ({report['holdout']} held out, budget "
        f"{report['budget']})"
    )
    lines = [head]
    rounds = report["rounds"]
    listed = rounds if last is None else rounds[max(0, len(rounds) - last) :]
    for r in listed:
        why = (
            f"by spacing: {r['fallback']}"
            if r["fallback"]
            else f"worst disagreement {r['worst']:.2g}, median {r['median']:.2g}"
        )
        took = f"; models {r['minutes']:g} min" if r.get("minutes") is not None else ""
        lines.append(f"  round {r['round']}: {', '.join(r['chosen'])} ({why}{took})")
    trend = [r["worst"] for r in report["rounds"] if not r["fallback"] and r["worst"] is not None]
    if len(trend) > 1:
        lines.append("  worst disagreement by round: " + " → ".join(f"{w:.2g}" for w in trend))
    if report["done"]:
        lines.append(f"  rounds done: {report['done']}")
    else:
        now = f"round {report['training']} training; " if report["training"] else ""
        if report.get("cut_short"):
            now = f"round {report['cut_short']} was cut short (a resume trains it); "
        lines.append(
            f"  {now}up to {report['left']} more to choose; about "
            f"{hms(report['estimated_left_s'])} left"
        )
    return lines


def measured_per_setting_s(session: Session) -> float:
    """What a setting of this session takes: the median time between settings finishing in
    the journal (within one run), else the plan's capture and overhead estimate."""
    gaps: list[float] = []
    last: float | None = None
    for e in Journal(session.folder).read():
        if e["event"] in ("started", "resumed"):
            last = dt.datetime.fromisoformat(str(e["time"])).timestamp()
        elif (e["event"] == "checked" and e.get("passed")) or e["event"] == "failed":
            now = dt.datetime.fromisoformat(str(e["time"])).timestamp()
            if last is not None:
                gaps.append(now - last)
            last = now
    if gaps:
        return float(np.median(gaps))
    r = session.plan.request
    return r.capture_s + r.overhead_s

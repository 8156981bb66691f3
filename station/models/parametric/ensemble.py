"""An ensemble of quick conditioned models for an adaptive sweep, and their predictions.

Each member is the same recipe from its own seed, trained on the session's usable
training settings so far (held-out settings stay out: they judge the final model, and
the choice of settings must not lean on them). Members are written to
`<session>/adaptive/round-<N>/member-<K>.nam` with `ensemble.json` beside them; the
session's own `models/` folder is never touched. A round asked for again with the same
settings and recipe keeps the members it already has (a killed round retrains only the
rest).

`predict` runs every member at many candidate settings at once: the controls are
constant input channels, so a batch of candidates is one batch of the same probe.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import StationError, Stopped
from ...events import Emit, Step, StopFlag, ignore
from ...fsutil import atomic_write_bytes, write_json
from ...phrases import Phrase
from ...plan.adaptive import Candidate, RoundScores, disagreement
from ...plan.design import PlanRequest
from ...reamp import files as reamp
from ..namfile import read_model
from . import fold
from .session import Sweep, load_sweep
from .training import Recipe, fit, in_bank
from .verify import held_out_start

FOLDER = "adaptive"  # under the session
MANIFEST = "ensemble.json"
MEMBER_STEPS = 300  # a member's optimiser steps when its recipe sets none
# A quick member: the tiny layout, steps not epochs, one validation at the end, short slices
# in small batches (2048 × 8: an eighth of a full-size step; at 300 such steps members agree
# near the captured settings and disagree far from them, tests/models/parametric).
QUICK = Recipe(
    architecture="tiny",
    epochs=100_000,
    patience=None,
    steps=MEMBER_STEPS,
    validate_every=MEMBER_STEPS,
    ny=2048,
    batch_size=8,
)
PROBE_S = 0.5  # seconds of held-out input each candidate is predicted for
# Samples one batch of candidates holds (candidates × probe, padding included). Measured on
# a tiny member, 512 candidates of 0.3 s on one core: 2^16–2^17 about 1.1–1.8 s, 2^20 12 s
# (activations that outgrow the caches), 2^14 (one candidate a batch) 4 s.
CHUNK_SAMPLES = 2**17


@dataclass(frozen=True)
class Ensemble:
    """One round's members: their files, the settings they learnt from, how each trained."""

    folder: Path
    models: list[Path]
    settings: list[str]  # the ids of the training settings, sorted
    training: list[dict[str, Any]]  # per member, stopping.TrainingLog's JSON
    minutes: float  # this call's training time (0 when every member was already there)


def member_recipes(recipe: Recipe, members: int) -> list[Recipe]:
    """The members' recipes: `recipe` with seeds seed, seed + 1, …, each with a step limit
    (MEMBER_STEPS unless the recipe sets one) and a validation at least at its end."""
    if members < 2:
        raise StationError(
            f"an ensemble needs at least two members, not {members}",
            "disagreement is measured between models",
        )
    steps = recipe.steps or MEMBER_STEPS
    every = min(recipe.validate_every or steps, steps)
    return [
        dataclasses.replace(recipe, seed=recipe.seed + k, steps=steps, validate_every=every)
        for k in range(members)
    ]


def round_folder(session: Path, round_no: int) -> Path:
    """`<session>/adaptive/round-<N>`: where round N's members go."""
    if round_no < 1:
        raise StationError(f"rounds count from 1, not {round_no}")
    return Path(session) / FOLDER / f"round-{round_no}"


def train_ensemble(
    session: Path,
    members: int,
    recipe: Recipe = QUICK,
    *,
    round_no: int = 1,
    level: float | None = None,
    only: Collection[str] | None = None,
    stop: StopFlag | None = None,
    emit: Emit = ignore,
) -> Ensemble:
    """Train `members` conditioned models on the session's usable training settings so far
    (of them, only the ids in `only` when given: a round resumed trains on what it began
    with).

    StationError for fewer than two members or two usable training settings (and for
    what fit() refuses); Stopped when a stop was asked for before a member was exported.
    """
    recipes = member_recipes(recipe, members)
    sweep = load_sweep(Path(session), level)
    if only is not None:  # the trainer learns from every usable training setting it is given
        sweep = dataclasses.replace(
            sweep, settings=[s for s in sweep.settings if s.role != "train" or s.id in only]
        )
    train = sweep.used("train")
    if len(train) < 2:
        raise StationError(
            f"{sweep.name} has {len(train)} usable training setting(s); an ensemble needs two",
            Phrase("capture more settings ({sweep_resume})", session=sweep.name),
        )
    folder = round_folder(sweep.path, round_no)
    ids = sorted(s.id for s in train)
    plan = [_recipe_json(r) for r in recipes]
    done = _kept(folder, ids, plan)
    emit(
        Step(
            "ensemble",
            f"Round {round_no}: training {members - len(done)} of {members} quick models on "
            f"{len(train)} settings" + (f" ({len(done)} kept)" if done else ""),
        )
    )
    started = time.monotonic()
    for k, member in enumerate(recipes, start=1):
        if k in done:
            continue
        done[k] = _train_member(sweep, member, folder, k, stop, in_bank(emit, k, members, started))
        members_json = {str(i): log for i, log in sorted(done.items())}
        write_json(
            folder / MANIFEST,
            {"round": round_no, "settings": ids, "recipes": plan, "members": members_json},
        )
    return Ensemble(
        folder,
        [member_path(folder, k) for k in range(1, members + 1)],
        ids,
        [done[k] for k in range(1, members + 1)],
        (time.monotonic() - started) / 60,
    )


def member_path(folder: Path, k: int) -> Path:
    """Member K's model file in a round's folder."""
    return folder / f"member-{k}.nam"


def _recipe_json(recipe: Recipe) -> dict[str, Any]:
    return dataclasses.asdict(recipe)


def _kept(folder: Path, ids: list[str], plan: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Members an earlier call of this round finished, when it trained on the same settings
    with the same recipes (JSON round trip: what the manifest holds is what it compares)."""
    import json

    try:
        old = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(old, dict) or old.get("settings") != ids:
        return {}
    if old.get("recipes") != json.loads(json.dumps(plan)):
        return {}
    members = old.get("members")
    if not isinstance(members, dict):
        return {}
    return {
        int(k): v
        for k, v in members.items()
        if k.isdigit() and member_path(folder, int(k)).is_file()
    }


def _train_member(
    sweep: Sweep, recipe: Recipe, folder: Path, k: int, stop: StopFlag | None, emit: Emit
) -> dict[str, Any]:
    """Train member K into its own scratch folder, install its file, drop the scratch."""
    work = folder / f"member-{k}"
    if work.exists():  # a killed run's scratch: this round's own, nothing else uses it
        shutil.rmtree(work)
    model_file, log = fit(sweep, recipe, work, stop=stop, emit=emit)
    if stop is not None and stop.is_set():  # cut short: not a member a resume may keep
        raise Stopped()
    atomic_write_bytes(member_path(folder, k), model_file.read_bytes())
    shutil.rmtree(work)  # checkpoints of a throw-away model
    return log.to_json()


def probe_input(sweep: Sweep, duration_s: float = PROBE_S) -> np.ndarray:
    """The first `duration_s` seconds of the session's held-out test stretch (audio no
    member trained or validated on), shorter where the stretch is."""
    if not duration_s > 0:
        raise StationError("the probe needs a positive duration")
    x, rate, _ = reamp.read_mono(sweep.x_path)
    start = held_out_start(reamp.recognise(sweep.x_path, (x, rate)))
    return np.asarray(x[start : start + round(duration_s * rate)], dtype=np.float32)


def encode_candidates(
    known: list[fold.Control], candidates: Sequence[Candidate], req: PlanRequest
) -> np.ndarray:
    """The candidates as a model's control channels see them: (candidates, controls), in the
    model's channel order. StationError when the request and the model's controls differ."""
    knobs = {k.name: i for i, k in enumerate(req.knobs)}
    switches = {s.name: i for i, s in enumerate(req.switches)}
    names = {c.name for c in known}
    for name in [*knobs, *switches]:
        if name not in names:
            raise StationError(
                f"the models have no control {name!r}",
                f"their controls are {', '.join(sorted(names))}",
            )
    for c in known:
        if c.name not in knobs and c.name not in switches:
            raise StationError(
                f"the candidates do not set the models' control {c.name!r}",
                "choose candidates for the session the models were trained on",
            )
    for cand in candidates:
        if len(cand.unit) != len(req.knobs) or len(cand.switches) != len(req.switches):
            raise StationError("a candidate does not set every control of the plan request")
    units = np.array([c.unit for c in candidates], dtype=np.float64).reshape(len(candidates), -1)
    out = np.empty((len(candidates), len(known)), dtype=np.float32)
    for j, c in enumerate(known):
        spec = c.spec
        if c.name in switches:
            i = switches[c.name]
            out[:, j] = [spec.encode(cand.switches[i]) for cand in candidates]
            continue
        if spec.kind != "knob":
            raise StationError(f"{c.name} is a switch in the models and a knob in the plan")
        k = req.knobs[knobs[c.name]]
        lo, span = spec.minval, spec.maxval - spec.minval
        scale = (k.max - k.min) / span  # the plan's range in the model's 0…1
        offset = (k.min - lo) / span
        if offset < -1e-9 or offset + scale > 1 + 1e-9:
            raise StationError(
                f"the plan's {c.name} runs {k.min:g}…{k.max:g}, beyond the models' "
                f"{spec.minval:g}…{spec.maxval:g}"
            )
        out[:, j] = offset + scale * units[:, knobs[c.name]]
    return out


def predict(
    models: Sequence[Path],
    candidates: Sequence[Candidate],
    probe: np.ndarray,
    req: PlanRequest,
    *,
    chunk_samples: int = CHUNK_SAMPLES,
) -> np.ndarray:
    """Each model's output for `probe` at each candidate: (models, candidates, samples),
    float32. Candidates go through a model in batches (no gradients).

    StationError for no models, members with different controls, or candidates that name
    a control the models do not have.
    """
    if not models:
        raise StationError("no models to predict with")
    datas = [read_model(Path(m)).data for m in models]
    known = fold.controls(datas[0])
    for m, data in zip(models, datas, strict=True):
        if fold.controls(data) != known:
            raise StationError(
                f"{Path(m).name} has other controls than {Path(models[0]).name}",
                "predict with the members of one ensemble",
            )
    params_all = encode_candidates(known, candidates, req)
    x = np.asarray(probe, dtype=np.float32)
    out = np.empty((len(datas), len(candidates), len(x)), dtype=np.float32)
    if not len(candidates):
        return out
    import torch

    from . import nam_ext

    xt = torch.from_numpy(x)
    for i, data in enumerate(datas):
        net = nam_ext.load_model(data)
        per = max(1, chunk_samples // (len(x) + net.receptive_field))
        with torch.no_grad():
            for a in range(0, len(candidates), per):
                params = torch.from_numpy(params_all[a : a + per])
                y = net(params, xt[None].expand(len(params), -1), pad_start=True)
                out[i, a : a + len(params)] = y.numpy()
    return out


def score_round(
    session: Path,
    round_no: int,
    settings: list[str],
    candidates: list[Candidate],
    req: PlanRequest,
    members: int,
    stop: StopFlag,
    emit: Emit,
) -> RoundScores:
    """An adaptive sweep's round (station.plan.adaptive.RoundModels): train the ensemble on
    `settings`, predict the held-out probe at every candidate, score their disagreement."""
    import torch

    # One core stays with the sweep: its captures stream audio while the round trains. A
    # caller that has already set fewer threads (a benchmark's job among others) keeps them.
    torch.set_num_threads(max(1, min((os.cpu_count() or 2) - 1, torch.get_num_threads())))
    started = time.monotonic()
    ens = train_ensemble(session, members, round_no=round_no, only=settings, stop=stop, emit=emit)
    probe = probe_input(load_sweep(Path(session)))
    outputs = predict(ens.models, candidates, probe, req)
    keys = ("best_selection_loss", "steps_done", "minutes")
    summary: list[dict[str, Any]] = [
        {k: log.get(k) for k in keys if k in log} for log in ens.training
    ]
    return RoundScores(disagreement(outputs), (time.monotonic() - started) / 60, summary)

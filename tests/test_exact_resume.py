"""Interrupted and resumed == uninterrupted, bit for bit, for every algorithm and kind: the same
final weights, optimizer state, replay buffer, envs, RNGs and eval figures. Each case runs once
straight through, once stopped by SIGTERM mid-run (between scheduled checkpoints) and resumed, and
once resumed from a scheduled checkpoint of the straight run (as after a crash right after it)."""

import json
import os
import shutil
import signal

import pytest

import rlgen
from rlgen import checkpoint
from rlgen.api import kind_of, load_config
from rlgen.testing import _differences

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false",
         "train.early_stop.target=null", "train.eval_episodes=2", "train.keep_checkpoints=100",
         "train.early_stop.metric=eval/none"]  # no best to keep: checkpoints only on the schedule, so mid-run units exist
ON_POLICY = ["env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
             "agent.hyperparams.n_epochs=2", "train.total_steps=256", "train.eval_every=64",
             "train.checkpoint_every=96"]
OFF_POLICY = ["agent.hyperparams.learning_starts=20", "agent.hyperparams.buffer_size=1000",
              "agent.hyperparams.batch_size=32", "train.total_steps=300", "train.eval_every=50",
              "train.checkpoint_every=100"]
CASES = {
    "ppo": ("ppo_cartpole", ON_POLICY),
    "a2c": ("a2c_cartpole", [*ON_POLICY[:2], "agent.hyperparams.n_steps=8", *ON_POLICY[4:]]),
    "dqn": ("dqn_cartpole", [*OFF_POLICY, "agent.hyperparams.train_freq=16", "agent.hyperparams.gradient_steps=4"]),
    # VecNormalize beneath the history window: the replay buffer keeps the windowed observations
    "dqn_history_normalize": ("dqn_cartpole", [*OFF_POLICY, "agent.hyperparams.train_freq=16",
                                               "env.history={length: 3}", "env.normalize={obs: true, reward: true}"]),
    "sac": ("sac_pendulum", OFF_POLICY),
    "td3": ("td3_pendulum", OFF_POLICY),
    "recurrent_ppo": ("recurrent_ppo_cartpole_novel", ON_POLICY),
    "window_lstm": ("ppo_lstm_cue", ON_POLICY),
    "selfplay": ("selfplay_tictactoe", ["game.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
                                        "agent.hyperparams.n_epochs=2", "league.snapshot_every=32",
                                        "ratings.games_per_pair=1", "train.total_steps=224", "train.eval_every=64",
                                        "train.checkpoint_every=96"]),
    "teams": ("teams_simple_tag", ["game.copies=1", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=8",
                                   "game.kwargs.max_cycles=10", "schedule.units_per_phase=1", "train.total_steps=160",
                                   "train.eval_every=64", "train.checkpoint_every=70"]),
    "teams_references": ("teams_simple_tag", ["game.copies=1", "agent.hyperparams.n_steps=8",
                                              "agent.hyperparams.batch_size=8", "game.kwargs.max_cycles=10",
                                              "schedule.units_per_phase=1", "train.total_steps=160",
                                              "train.eval_every=64", "train.checkpoint_every=70",
                                              "league.references=[chaser, evader, random]",
                                              "league.reference_prob=0.6"]),
    # simple_push: the agents' goal is one of world.landmarks, a reference the restore must keep
    "teams_push": ("teams_simple_tag", ["game.name=simple_push_v3", "ratings.baselines=[random]",
                                        "league.references=[random]", "game.copies=1", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=8",
                                        "game.kwargs.max_cycles=10", "schedule.units_per_phase=1",
                                        "train.total_steps=160", "train.eval_every=64", "train.checkpoint_every=70"]),
    "gan": ("gan_ring8", ["eval.samples=200", "perf.steps_per_unit=5", "train.total_steps=40", "train.eval_every=10",
                          "train.checkpoint_every=15"]),
}
SLOW = {"sac", "td3"}


def _train(name, overrides, root, **kw):
    return rlgen.train(name, [*overrides, *QUIET, f"logging.dir={root}"], **kw)


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _evals(run_dir) -> dict[int, dict]:
    """eval/... figures by step (the last row of a step wins; wall time and pictures are no figures)."""
    return {r["global_step"]: {k: v for k, v in r.items() if k.startswith("eval/") and k != "eval/wall_time_s"
                               and not (isinstance(v, dict) and v.get("_type") == "image")}
            for r in _rows(run_dir) if "eval/wall_time_s" in r}


def _assert_same(straight, other):
    a, b = checkpoint.load(straight), checkpoint.load(other)
    assert a["global_step"] == b["global_step"]
    diff = _differences({**a["experiment"], "rng": a["rng"]}, {**b["experiment"], "rng": b["rng"]}, True,
                        ("uninterrupted", "resumed"))
    assert not diff, diff[:5]
    assert _evals(straight) == _evals(other)


def _stop_at(monkeypatch, cls, step: int) -> None:
    """SIGTERM to this process once a unit ends at `step`: the runner checkpoints and stops."""
    original = cls.train_unit

    def unit(self):
        out = original(self)
        if self.global_step == step:
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    monkeypatch.setattr(cls, "train_unit", unit)


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in CASES])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, monkeypatch, case):
    name, overrides = CASES[case]
    # no early-stop metric: a new best forces a checkpoint off the schedule, and this test wants a
    # unit that is not a checkpoint (the best checkpoint is tested in tests/runner/test_wandb.py)
    overrides = [*overrides, "train.early_stop.metric=test/none"]
    straight = _train(name, overrides, tmp_path / "straight").run_dir
    units = [r["global_step"] for r in _rows(straight) if "time/fps" in r]
    saved = sorted(checkpoint.step_of(p) for p in (straight / "checkpoints").glob("step_*"))
    boundary = saved[0]
    mid = next(s for s in units if s > boundary and s not in saved)

    # 1. SIGTERM mid-run: the runner checkpoints at that unit, and the resume goes on from there
    _stop_at(monkeypatch, kind_of(load_config(name, overrides)), mid)
    stopped = _train(name, overrides, tmp_path / "mid")
    assert stopped.summary["status"] == "interrupted" and stopped.summary["global_step"] == mid
    monkeypatch.undo()
    resumed = rlgen.train(resume=stopped.run_dir)
    assert resumed.summary["status"] == "completed"
    _assert_same(straight, stopped.run_dir)

    # 2. a crash right after a scheduled checkpoint: what the run dir holds then, resumed
    crashed = tmp_path / "boundary" / "run"
    shutil.copytree(straight, crashed, ignore=shutil.ignore_patterns(".lock", "wandb"))
    for ckpt in (crashed / "checkpoints").glob("step_*"):
        if checkpoint.step_of(ckpt) > boundary:
            shutil.rmtree(ckpt)
    (crashed / "checkpoints" / "latest").write_text(f"step_{boundary}\n")
    kept = [line for line, r in zip((crashed / "metrics.jsonl").read_text().splitlines(), _rows(crashed))
            if r["global_step"] <= boundary]
    (crashed / "metrics.jsonl").write_text("\n".join(kept) + "\n")
    assert rlgen.train(resume=crashed).summary["status"] == "completed"
    _assert_same(straight, crashed)


@pytest.mark.parametrize("kind", ["ppo", "bc"])
def test_a_run_stopped_in_its_last_unit_resumes_to_the_same_closing_evaluation(tmp_path, monkeypatch, kind,
                                                                                expert_demos):
    """The resume has no unit left to train and goes straight to the closing evaluation (at 160, off
    the schedule of 64): it played a fresh eval env's first episodes, not the uninterrupted run's
    next ones, because the saved eval envs were put back only when a unit trained."""
    name, overrides = ("ppo_cartpole", [*ON_POLICY[:4], "train.total_steps=160", "train.eval_every=64"]) \
        if kind == "ppo" else ("bc_cartpole", [f"demos.path={expert_demos('ppo_cartpole')}", "demos.episodes=2", "bc.batch_size=64",
                                               "train.total_steps=40", "train.eval_every=16"])
    straight = _train(name, overrides, tmp_path / "straight").run_dir
    last = max(r["global_step"] for r in _rows(straight))
    _stop_at(monkeypatch, kind_of(load_config(name, overrides)), last)
    stopped = _train(name, overrides, tmp_path / "stopped")
    assert stopped.summary["status"] == "interrupted" and stopped.summary["global_step"] == last
    monkeypatch.undo()
    assert rlgen.train(resume=stopped.run_dir).summary["status"] == "completed"
    _assert_same(straight, stopped.run_dir)

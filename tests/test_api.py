"""The public Python API: train, load a run, act with its agent on a plain gymnasium env."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import sync_envs_normalization, unwrap_vec_normalize

import rlgen
from rlgen.agents.rl.vec import make_vec_env
from rlgen.envs import make_env_fn
from rlgen.errors import ConfigError, RlgenError, RlgenWarning


def _train(tmp_path, config: str, steps: int, *extra: str) -> rlgen.Run:
    return rlgen.train(config, [f"train.total_steps={steps}", f"train.eval_every={steps}", "train.eval_episodes=2",
                                f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.progress=false",
                                "logging.console=false", *extra])


def _own_actions(run: rlgen.Run, seed: int) -> list[int]:
    """One episode as the run's own evaluation acts: its vector env, its normalization, SB3's predict."""
    exp = run.experiment
    vec = make_vec_env(run.config.env.model_copy(update={"n_envs": 1}), seed=seed, training=False)
    if unwrap_vec_normalize(exp.env) is not None:
        sync_envs_normalization(exp.env, vec)
    obs, actions = vec.reset(), []
    while True:
        action = exp.model.predict(obs, deterministic=True)[0]
        actions.append(int(action[0]))
        obs, _, done, _ = vec.step(action)
        if done[0]:
            return actions


def _agent_actions(run: rlgen.Run, seed: int) -> list[int]:
    """The same episode on a raw gymnasium env (no vector env, no wrappers of rlgen's) via the agent."""
    cfg = run.config.env
    env = make_env_fn(cfg.id, cfg.kwargs, cfg.wrappers)()
    agent = run.agent()
    obs, _ = env.reset(seed=seed)
    actions, reward = [], 0.0
    while True:
        action = agent.predict(obs, reward=reward)
        actions.append(int(action))
        obs, reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            return actions


@pytest.mark.parametrize("config, steps", [
    ("ppo_cartpole", 2048),              # VecNormalize-free MLP policy
    ("ppo_lstm_cartpole_novel", 2048),   # a window (history) policy on normalized observations
])
def test_load_run_predict_matches_the_runs_own_evaluation(tmp_path, config, steps):
    run = _train(tmp_path, config, steps)
    assert run.summary["status"] in ("completed", "stopped_early") and run.exit_code == 0
    with rlgen.load_run(run.run_dir) as loaded:
        assert loaded.global_step is None  # nothing is built until used
        for seed in (3, 11):
            own = _own_actions(loaded, seed)
            assert _agent_actions(loaded, seed) == own
        assert loaded.global_step == run.summary["global_step"]
        assert set(np.unique(own)) <= {0, 1} and len(own) > 5


def test_agent_reset_starts_a_new_window(tmp_path):
    """Without reset() a window policy would carry the last episode's steps into the next one."""
    run = _train(tmp_path, "ppo_lstm_cartpole_novel", 2048)
    with rlgen.load_run(run.run_dir) as loaded:
        first = _agent_actions(loaded, 5)
        assert _agent_actions(loaded, 5) == first  # a fresh agent() per episode
        agent = loaded.agent()
        env = gym.make("rlgen/CartPoleNoVel-v1")
        obs, _ = env.reset(seed=5)
        agent.predict(obs)
        agent.reset()
        obs, _ = env.reset(seed=5)
        assert int(agent.predict(obs)) == first[0]


def test_run_modules_evaluate_and_checkpoint_dir(tmp_path):
    run = _train(tmp_path, "ppo_cartpole", 1024, "train.checkpoint_every=512", "train.keep_checkpoints=5")
    with rlgen.load_run(run.run_dir) as loaded:
        policy = loaded.modules()["policy"]
        assert isinstance(policy, torch_module()) and sum(p.numel() for p in policy.parameters()) > 0
        metrics = loaded.evaluate(episodes=2)
        assert set(metrics) >= {"eval/return_mean", "eval/return_std"}
    early = min((run.run_dir / "checkpoints").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    with rlgen.load_run(early) as at_step:  # a checkpoints/step_N directory loads that step
        at_step.experiment
        assert at_step.global_step < run.summary["global_step"] and at_step.run_dir == run.run_dir


def torch_module() -> type:
    import torch

    return torch.nn.Module


def test_gan_run_has_modules_but_no_agent(tmp_path):
    run = _train(tmp_path, "gan_ring8", 20, "perf.steps_per_unit=10", "eval.samples=100")
    with rlgen.load_run(run.run_dir) as loaded:
        assert {"generator", "discriminator"} <= set(loaded.modules())
        with pytest.raises(RlgenError, match="has no agent.*generator"):
            loaded.agent()


def test_a_kind_that_plays_no_episodes_says_the_episodes_asked_for_are_not_played(tmp_path):
    run = _train(tmp_path, "gan_ring8", 20, "perf.steps_per_unit=10", "eval.samples=100")
    with rlgen.load_run(run.run_dir) as loaded:
        with pytest.warns(RlgenWarning, match="kind 'gan' plays no episodes .*: the 5 episodes asked for are not played"):
            loaded.evaluate(episodes=5)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loaded.evaluate()  # nothing asked for, nothing said


def test_bundled_configs_of_a_folder_that_is_not_one_is_one_line():
    """A FileNotFoundError, a TypeError, and `sweeps//ppo_cartpole` for "sweeps/"."""
    assert list(rlgen.bundled_configs("sweeps/")) == list(rlgen.bundled_configs("sweeps"))
    assert "sweeps/ppo_cartpole" in rlgen.bundled_configs("sweeps")
    for folder in ("nope", 3, "__pycache__"):
        with pytest.raises(RlgenError, match=r"^rlgen.bundled_configs: folder must be '' \(the configs themselves\) or "
                                             r"one of the bundled folders \('sweeps'\), not "):
            rlgen.bundled_configs(folder)


def test_load_config_names_and_errors(tmp_path):
    assert "ppo_cartpole" in rlgen.bundled_configs()
    assert rlgen.load_config("ppo_cartpole").name == "ppo_cartpole"
    cfg = rlgen.load_config("ppo_cartpole", ["seed=4"])
    assert rlgen.load_config(cfg, ["seed=5"]).seed == 5 and cfg.seed == 4  # a loaded config is not mutated
    with pytest.raises(RlgenError, match=r"config file not found: ppo_cartpol \(did you mean 'ppo_cartpole'\?\)"):
        rlgen.load_config("ppo_cartpol")
    with pytest.raises(ConfigError, match="kind: unknown experiment kind 'rll' \\(did you mean 'rl'\\?\\)"):
        rlgen.load_config("ppo_cartpole", ["kind=rll"])
    with pytest.raises(RlgenError, match="not a run directory"):
        rlgen.load_run(tmp_path)


def test_every_problem_at_once_the_schemas_and_the_kinds():
    """The README's example: three problems the schema finds, one only the kind's check can (a
    hyperparameter against SB3's signature), reported together."""
    with pytest.raises(ConfigError) as e:
        rlgen.load_config("ppo_cartpole", ["train.eval_evry=5", "optim.type=adamm", "agent.hyperparams.n_step=64",
                                           "env.id=CartPole-v2"])
    found = [p.split(":")[0] for p in e.value.problems]
    assert sorted(found) == ["agent.hyperparams.n_step", "env.id", "optim.type", "train.eval_evry"], e.value.problems
    with pytest.raises(ConfigError, match=r"eval_env\.wrapers: unknown key \(did you mean 'wrappers'\?\)"):
        rlgen.load_config("ppo_cartpole", ["eval_env={wrapers: []}"])  # the eval env's keys read as env's do
    with pytest.raises(ConfigError) as e:  # a kind's problem with a key the schema refused is not said twice
        rlgen.load_config("ppo_cartpole", ["agent.hyperparams=5"])
    assert len(e.value.problems) == 1


def test_train_from_a_mapping_and_resume(tmp_path):
    raw = rlgen.load_config("ppo_cartpole").model_dump(mode="json")
    run = _train(tmp_path, raw, 1024, "train.early_stop.target=null")
    assert run.summary["global_step"] == 1024
    more = rlgen.train(None, ["train.total_steps=2048"], resume=run.run_dir)
    assert more.run_dir == run.run_dir and more.summary["global_step"] == 2048


# --- bad arguments: one RlgenError line, before anything is read, built or written -----------------

TINY = ["train.total_steps=64", "train.eval_every=64", "train.eval_episodes=1", "agent.hyperparams.n_steps=64",
        "agent.hyperparams.batch_size=64", "agent.hyperparams.n_epochs=1", "train.early_stop.target=null",
        "logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return rlgen.train("ppo_cartpole", [*TINY, f"logging.dir={tmp_path_factory.mktemp('runs')}"]).run_dir


@pytest.mark.parametrize("call, says", [
    (lambda d: rlgen.train(123), "rlgen.train: config is a YAML path, a bundled config name"),
    (lambda d: rlgen.train([1, 2]), "rlgen.train: config is a YAML path, a bundled config name"),
    (lambda d: rlgen.train("ppo_cartpole", overrides="seed=1"), "overrides is a list of 'key=value' strings"),
    (lambda d: rlgen.train("ppo_cartpole", overrides=[1]), "overrides is a list of 'key=value' strings"),
    (lambda d: rlgen.train("ppo_cartpole", [*TINY, f"logging.dir={d}"], on_eval=5),
     "rlgen.train: on_eval is a function on_eval(step, metrics) -> stop?, not int 5"),
    (lambda d: rlgen.train("ppo_cartpole", [*TINY, f"logging.dir={d}"], run_dir=5),
     "rlgen.train: run_dir must be a str or pathlib.Path"),
    (lambda d: rlgen.train(None, resume=123), "rlgen.train: resume must be a str or pathlib.Path"),
    (lambda d: rlgen.load_config(None), "rlgen.load_config: config is a YAML path"),
    (lambda d: rlgen.load_config(b"ppo_cartpole"), "rlgen.load_config: config is a YAML path"),
    (lambda d: rlgen.make_experiment({"kind": "rl"}), "rlgen.make_experiment takes a loaded config"),
    (lambda d: rlgen.load_run(None), "rlgen.load_run: path must be a str or pathlib.Path"),
    (lambda d: rlgen.load_run(42), "rlgen.load_run: path must be a str or pathlib.Path"),
])
def test_a_wrong_argument_is_one_rlgen_error_and_no_run(tmp_path, call, says):
    with pytest.raises(RlgenError) as e:
        call(tmp_path)
    assert str(e.value).startswith(says) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []  # no run directory, nothing trained


def test_run_arguments_are_checked(tiny_run, tmp_path):
    with pytest.raises(RlgenError, match=r"^rlgen\.load_run: device must be auto, cpu, mps, cuda or cuda:N, not 'bogus'$"):
        rlgen.load_run(tiny_run, device="bogus")
    with rlgen.load_run(tiny_run) as run:
        for episodes in (0, -1, "3", 2.5, True):  # the CLI refuses 0 too; nothing falls back to the config's number
            with pytest.raises(RlgenError, match=r"^Run\.evaluate: episodes must be a whole number >= 1, not "):
                run.evaluate(episodes=episodes)
        assert run.evaluate(episodes=1)["eval/return_mean"] > 0
    for args, kwargs, says in [((tiny_run, "2", tmp_path / "d.npz"), {}, "record: episodes must be a whole number >= 1"),
                               ((tiny_run, 1, tmp_path / "d.npz"), {"seed": -1}, "record: seed must be a whole number >= 0"),
                               ((tiny_run, 1, None), {}, "record: out must be a str or pathlib.Path")]:
        with pytest.raises(RlgenError, match=f"^{says}"):
            rlgen.record(*args, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_stochastic_recording_is_the_same_every_time(tiny_run, tmp_path):
    """`record(..., deterministic=False)`: the agent's sampled actions are seeded too, not only the env's resets."""
    a, b = (np.load(rlgen.record(tiny_run, 2, tmp_path / f"{n}.npz", deterministic=False)) for n in "ab")
    assert np.array_equal(a["actions"], b["actions"]) and np.array_equal(a["observations"], b["observations"])


def test_a_video_dir_that_cannot_be_written_is_named(tiny_run, tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    with rlgen.load_run(tiny_run) as run:
        with pytest.raises(RlgenError, match=r"^Run\.evaluate: cannot write into video_dir .*a_file/videos: "
                                             r".*a_file is a file, not a folder; move or rename it$"):
            run.evaluate(episodes=1, video_dir=tmp_path / "a_file" / "videos")
        import os

        monkeypatch.setattr(os, "access", lambda *a, **k: False)  # a read-only run (root writes anywhere)
        with pytest.raises(RlgenError, match=r"^Run\.evaluate: cannot write into video_dir .*media/videos \(read-only"):
            run.evaluate(episodes=1, video_dir=run.run_dir / "media" / "videos")


@pytest.mark.parametrize("obs, says", [
    ([1, 2], r"the observation has shape \(2,\), not the env's \(4,\)"),
    ([[0.0] * 4] * 2, r"the observation has shape \(2, 4\), not the env's \(4,\) \(one observation at a time"),
    (None, "the observation is None"),
    ("abc", "the observation holds <U3 values, not numbers"),
    ([0.0, float("nan"), 0.0, 0.0], "the observation holds nan at index 1; an observation is finite numbers"),
    ([0.0, 0.0, float("inf"), 0.0], "the observation holds inf at index 2"),
])
def test_agent_predict_checks_the_observation_against_the_envs_space(tiny_run, obs, says):
    with rlgen.load_run(tiny_run) as run:
        agent = run.agent()
        with pytest.raises(RlgenError, match=f"^predict: {says}"):
            agent.predict(obs)
        with pytest.raises(RlgenError, match=f"^predict: {says}"):
            run.predict(obs)
        assert int(agent.predict(np.zeros(4, np.float32))) in (0, 1)  # a good one acts, after a bad one too
        assert int(agent.predict([0, 0, 0, 0])) in (0, 1)  # integers for a float Box are numbers


def test_observation_problem_for_discrete_spaces():
    from gymnasium import spaces

    from rlgen.api import observation_problem

    assert observation_problem(spaces.Discrete(3), 2) is None and observation_problem(spaces.Discrete(3), np.int64(0)) is None
    assert "outside the env's Discrete(3)" in observation_problem(spaces.Discrete(3), 3)
    assert "is not whole numbers" in observation_problem(spaces.Discrete(3), 1.5)
    assert observation_problem(spaces.MultiBinary(2), [1, 0]) is None
    assert "outside" in observation_problem(spaces.MultiBinary(2), [2, 0])
    assert observation_problem(spaces.Box(0, 1, (2, 2, 1), bool), np.zeros((2, 2, 1), bool)) is None
    assert observation_problem(spaces.Dict({"a": spaces.Discrete(2)}), "anything") is None  # left to the agent


def test_a_resume_accepts_a_checkpoint_from_before_a_setting_existed_when_the_setting_is_at_its_default(tmp_path):
    """A checkpoint's saved config lacks every field rlgen gained since; at its default such a field
    is what that run trained with, so it does not count as changed (set to anything else, it does)."""
    from rlgen.api import _check_resume

    quiet = ["logging.wandb.mode=disabled"]
    for name, key, other in (("teams_simple_tag", ("agent", "sides"), "agent.sides={agent: {init: {run: x, role: policy_agent}}}"),
                             ("ppo_cartpole", ("agent", "policy", "kwargs"), "agent.policy.kwargs={ortho_init: false}")):
        cfg = rlgen.load_config(name, quiet)
        saved = cfg.model_dump(mode="json")
        section = saved
        for k in key[:-1]:
            section = section[k]
        del section[key[-1]]  # what an older rlgen wrote
        _check_resume(tmp_path, cfg, saved)
        with pytest.raises(RlgenError, match=rf"with {'.'.join(key)}[. ]"):
            _check_resume(tmp_path, rlgen.load_config(name, [*quiet, other]), saved)
    cfg = rlgen.load_config("ppo_cartpole", quiet)
    saved = cfg.model_dump(mode="json")
    saved["agent"]["policy"]["kwargs"] = {"ortho_init": False}  # present and different: changed, as before
    with pytest.raises(RlgenError, match="agent.policy.kwargs"):
        _check_resume(tmp_path, cfg, saved)


def test_a_checkpoints_saved_config_is_read_without_importing_the_code_it_names(tmp_path, monkeypatch):
    """The comparison at resume reads the checkpoint's config through today's schema; a name by
    import path in it (a crafted checkpoint of someone else's run) is not imported unless trusted."""
    import sys

    from rlgen.api import _check_resume

    (tmp_path / "planted_wrapper.py").write_text("import gymnasium as gym\nclass Wrap(gym.Wrapper):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = rlgen.load_config("ppo_cartpole", ["logging.wandb.mode=disabled"])
    saved = cfg.model_dump(mode="json")
    saved["env"]["wrappers"] = ["planted_wrapper:Wrap"]
    with pytest.raises(RlgenError, match="env.wrappers changed"):
        _check_resume(tmp_path, cfg, saved)
    assert "planted_wrapper" not in sys.modules
    with pytest.raises(RlgenError, match="env.wrappers changed"):
        _check_resume(tmp_path, cfg, saved, trust=True)
    assert "planted_wrapper" in sys.modules  # trusted, it is read as a config names it
    sys.modules.pop("planted_wrapper")


@pytest.mark.parametrize("config, steps", [("ppo_cartpole", 1024), ("selfplay_tictactoe", 512)])
def test_every_evaluation_of_a_loaded_run_plays_the_first_ones_episodes(tmp_path, config, steps):
    """README: `Run.evaluate()` plays the episodes of a run's first evaluation, each time it is
    called, so a change in the weights (fine-tuning) is all that changes its figures."""
    import torch

    run = _train(tmp_path, config, steps, "train.early_stop.target=null")
    with rlgen.load_run(run.run_dir) as loaded:
        first = loaded.evaluate(episodes=5)
        again = [loaded.evaluate(episodes=5) for _ in range(2)]
        with torch.no_grad():  # a weight change: the figures follow it, the episodes stay
            for p in loaded.modules()["policy"].parameters():
                p.add_(torch.randn_like(p))
        changed = loaded.evaluate(episodes=5)
    numbers = [k for k, v in first.items() if isinstance(v, float)]
    with rlgen.load_run(run.run_dir) as fresh:
        assert {k: v for k, v in fresh.evaluate(episodes=5).items() if k in numbers} == {k: first[k] for k in numbers}
    assert all({k: e[k] for k in numbers} == {k: first[k] for k in numbers} for e in again)
    assert any(changed[k] != first[k] for k in numbers)


def test_a_run_that_cannot_be_opened_leaves_no_video_folder(tiny_run, tmp_path):
    import shutil

    broken = tmp_path / "run"
    shutil.copytree(tiny_run, broken)
    for state in broken.rglob("state.pt"):
        state.write_bytes(b"not a checkpoint")
    with rlgen.load_run(broken) as run:
        with pytest.raises(RlgenError, match="corrupted|unreadable|no intact checkpoint"):
            run.evaluate(episodes=1, video_dir=tmp_path / "videos" / "here")
    assert not (tmp_path / "videos").exists()

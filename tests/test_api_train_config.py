"""What `rlgen.train` is given and what it hands back: a loaded config the caller changed afterwards
is checked again as an override's value would be, and the `Run` it returns keeps the config and the
checkpoint the run was trained with, whatever the caller or a later resume changes."""

from __future__ import annotations

import pytest
import torch

import rlgen
from rlgen.errors import ConfigError, RlgenError

TINY = ["train.total_steps=64", "train.eval_every=64", "train.eval_episodes=1", "agent.hyperparams.n_steps=64",
        "agent.hyperparams.batch_size=64", "agent.hyperparams.n_epochs=1", "train.early_stop.target=null",
        "logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


def _weights(run: rlgen.Run) -> list[torch.Tensor]:
    return [p.detach().clone() for p in run.modules()["policy"].parameters()]


@pytest.mark.parametrize("section, key, value", [
    (None, "seed", "banana"),  # once a TypeError deep in rlgen.process, with a locked run directory left
    ("train", "eval_episodes", 0),  # once a raw pydantic ValidationError, after config.yaml was written
    ("train", "total_steps", 0),  # once trained nothing and said "completed"
])
def test_a_loaded_config_changed_after_is_refused_as_the_override_is(tmp_path, section, key, value):
    cfg = rlgen.load_config("ppo_cartpole", TINY)
    setattr(getattr(cfg, section) if section else cfg, key, value)
    with pytest.raises(ConfigError) as given:
        rlgen.train(cfg, run_dir=tmp_path / "run")
    with pytest.raises(ConfigError) as overridden:
        rlgen.load_config("ppo_cartpole", [*TINY, f"{section + '.' if section else ''}{key}={value}"])
    assert given.value.problems == overridden.value.problems and "\n" not in str(given.value)
    assert list(tmp_path.iterdir()) == []  # no run directory, no lock, no config.yaml


def test_a_value_that_is_no_config_data_is_one_line_naming_its_key():
    cfg = rlgen.load_config("ppo_cartpole", TINY)
    cfg.env.kwargs = {"render_mode": object()}
    with pytest.raises(ConfigError, match=r"^<config>: env\.kwargs: dict .* is no config value; give a number"):
        rlgen.load_config(cfg)


def test_the_run_keeps_its_own_config_and_a_loaded_config_trains_as_its_name(tmp_path):
    cfg = rlgen.load_config("ppo_cartpole", [*TINY, "seed=0"])
    first = rlgen.train(cfg, run_dir=tmp_path / "a")
    cfg.seed = 1
    rlgen.train(cfg, run_dir=tmp_path / "b")
    assert first.config.seed == 0 and first.config is not cfg
    with rlgen.load_run(tmp_path / "a", checkpoint="latest") as loaded:
        assert first.evaluate() == loaded.evaluate()
        # a valid loaded config, read again, trains bitwise as the same config given by name
        with rlgen.train("ppo_cartpole", [*TINY, "seed=0"], run_dir=tmp_path / "c") as by_name:
            assert all(torch.equal(a, b) for a, b in zip(_weights(by_name), _weights(loaded), strict=True))
    first.close()


def test_the_run_train_returns_stays_at_the_checkpoint_it_ended_with(tmp_path):
    with rlgen.train("ppo_cartpole", TINY, run_dir=tmp_path / "run") as run:
        ended = run.summary["global_step"]
        rlgen.train(resume=tmp_path / "run", overrides=[f"train.total_steps={2 * ended}"]).close()
        run.evaluate()
        assert run.global_step == ended and run.checkpoint == f"step_{ended}"
        with rlgen.load_run(tmp_path / "run", checkpoint=f"step_{ended}") as then:
            assert all(torch.equal(a, b) for a, b in zip(_weights(run), _weights(then), strict=True))


def test_resuming_a_path_that_does_not_exist_says_so(tmp_path):
    missing = tmp_path / "no_such_run"
    with pytest.raises(RlgenError, match="does not exist; give the run directory") as e:
        rlgen.train(resume=missing)
    assert "\n" not in str(e.value) and not missing.exists()


def test_the_run_train_returns_says_how_to_go_on_when_a_later_resume_pruned_its_checkpoint(tmp_path):
    base = ["train.total_steps=1024", "train.eval_every=512", "train.eval_episodes=2", "env.n_envs=4",
            "logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
    run = rlgen.train("ppo_cartpole", base, run_dir=tmp_path / "r")
    assert run.checkpoint == "step_1024"
    rlgen.train(resume=tmp_path / "r", overrides=["train.total_steps=2048", "train.keep_checkpoints=1"])
    with pytest.raises(RlgenError, match=r"cannot open step_1024 of .*: it is gone .*rlgen.load_run\(") as e:
        run.evaluate()
    assert "\n" not in str(e.value)


def test_a_mapping_from_python_takes_numpy_numbers_and_paths(tmp_path):
    import numpy as np

    given = {"name": "x", "kind": "rl", "seed": np.int64(3), "env": {"id": "CartPole-v1", "n_envs": np.int32(2)},
             "agent": {"algo": "ppo", "hyperparams": {"gamma": np.float64(0.97), "normalize_advantage": np.bool_(True)}},
             "train": {"total_steps": np.int64(1000)}, "logging": {"dir": tmp_path / "runs"}}
    cfg = rlgen.load_config(given)
    assert (cfg.seed, cfg.env.n_envs, cfg.train.total_steps) == (3, 2, 1000) and type(cfg.seed) is int
    assert cfg.agent.hyperparams == {"gamma": 0.97, "normalize_advantage": True}
    assert cfg.logging.dir == str(tmp_path / "runs")
    with pytest.raises(RlgenError, match="not a supported primitive type"):  # an array is no config value
        rlgen.load_config({**given, "seed": np.array([3, 4])})

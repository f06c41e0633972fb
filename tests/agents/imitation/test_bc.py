"""Behaviour cloning (`kind: bc`): the identity env learned to 100% by every policy family, window
policies included; exact resume; the result acts through `rlgen.load_run(...).agent()`."""

import json
from pathlib import Path

import numpy as np
import pytest

import rlgen
from rlgen.api import config_path
from rlgen.envs import make_env_fn
from rlgen.envs.demos import write_demos
from rlgen.envs.recording import record_episodes
from rlgen.errors import ConfigError
from rlgen.testing import check_experiment
from tests.test_configs import smoke_overrides


class Identity:
    """The perfect identity policy: the action is the observation."""

    def predict(self, obs, reward=0.0, deterministic=True):
        return obs if isinstance(obs, np.ndarray) else int(obs)

    def reset(self):
        pass


@pytest.fixture(scope="module")
def identity_demos(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("identity")
    out = {}
    for env_id in ("rlgen/Identity-v0", "rlgen/IdentityBox-v0"):
        demos = record_episodes(Identity(), make_env_fn(env_id), episodes=10, seed=0)
        out[env_id] = write_demos(demos, root / env_id.split("/")[1], env_id=env_id)
    return out


def bc_config(tmp_path, env_id, demos, algo="ppo", loss="nll", total=400, **sections):
    raw = {
        "name": f"bc_{algo}", "kind": "bc", "seed": 0,
        "env": {"id": env_id},
        "demos": {"path": str(demos)},
        "agent": {"algo": algo, "policy": {"backbone": {"type": "mlp", "hidden": [32]}}},
        "bc": {"loss": loss, "batch_size": 32},
        "optim": {"type": "adam", "lr": 3e-3},
        "train": {"total_steps": total, "eval_every": total, "eval_episodes": 4, "progress": False},
        "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return raw


@pytest.mark.parametrize("algo, loss, extra", [
    ("ppo", "nll", {}),
    ("dqn", "nll", {}),  # a softmax over the Q-values
    ("ppo", "nll", {"env": {"history": {"length": 2}}, "agent": {"algo": "ppo", "policy": {
        "backbone": {"type": "lstm", "hidden_size": 16}}}}),  # a window policy
])
def test_bc_learns_the_discrete_identity_env_to_100_percent(tmp_path, identity_demos, algo, loss, extra):
    cfg = bc_config(tmp_path, "rlgen/Identity-v0", identity_demos["rlgen/Identity-v0"], algo, loss, **extra)
    run = rlgen.train(cfg)
    final = run.summary["final"]
    assert final["eval/return_mean"] == 20.0 and final["eval/expert_ratio"] == 1.0  # every step right
    assert final["eval/bc_val_accuracy"] == 1.0
    with rlgen.load_run(run.run_dir) as trained:
        agent = trained.agent()
        assert [int(agent.predict(i)) for i in (3, 1, 0, 2)] == [3, 1, 0, 2]


@pytest.mark.parametrize("algo, loss", [("sac", "nll"), ("td3", "mse"), ("ppo", "mse")])
def test_bc_learns_the_continuous_identity_env(tmp_path, identity_demos, algo, loss):
    cfg = bc_config(tmp_path, "rlgen/IdentityBox-v0", identity_demos["rlgen/IdentityBox-v0"], algo, loss, total=800)
    final = rlgen.train(cfg).summary["final"]
    # -(a - x)^2 per step, 20 steps; a random policy scores about -13
    assert final["eval/return_mean"] > -0.2, final


def test_bc_stops_on_the_held_out_loss(tmp_path, identity_demos):
    cfg = bc_config(tmp_path, "rlgen/Identity-v0", identity_demos["rlgen/Identity-v0"], total=100_000,
                    train={"eval_every": 20, "early_stop": {"metric": "eval/bc_val_loss", "mode": "min", "patience": 2}},
                    bc={"l2": 0.5})  # a strong L2 pull: the held-out loss soon stops improving
    summary = rlgen.train(cfg).summary
    assert summary["status"] == "stopped_early" and summary["global_step"] < 100_000


def test_bc_config_problems_are_reported_before_training(tmp_path, identity_demos):
    cfg = bc_config(tmp_path, "rlgen/IdentityBox-v0", identity_demos["rlgen/IdentityBox-v0"], "td3", "nll",
                    env={"normalize": {"obs": True}})
    with pytest.raises(ConfigError) as e:
        rlgen.load_config(cfg)
    assert any("bc.loss" in p and "mse" in p for p in e.value.problems)
    assert any(p.startswith("env.normalize.obs") for p in e.value.problems)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_bc_mse_on_discrete_actions_is_refused_when_the_config_is_checked(tmp_path, identity_demos, algo):
    cfg = bc_config(tmp_path, "rlgen/Identity-v0", identity_demos["rlgen/Identity-v0"], algo, "mse")
    with pytest.raises(ConfigError) as e:
        rlgen.load_config(cfg)
    assert any(p.startswith("bc.loss: mse") and "use loss: nll" in p for p in e.value.problems), e.value.problems


def test_a_holdout_that_leaves_nothing_to_train_on_names_bc_holdout(tmp_path, identity_demos):
    cfg = bc_config(tmp_path / "runs", "rlgen/Identity-v0", identity_demos["rlgen/Identity-v0"], bc={"holdout": 0.75})
    cfg["demos"]["episodes"] = 2
    with pytest.raises(rlgen.errors.RlgenError, match=r"^bc\.holdout: 0\.75 of 2 episodes"):
        rlgen.train(cfg)
    assert not (tmp_path / "runs").exists()


def _load(path, env_id, **env):
    from rlgen.agents.imitation.config import DemosConfig
    from rlgen.agents.imitation.data import load_demos
    from rlgen.config import EnvConfig

    env_cfg = EnvConfig(id=env_id, **env)
    made = make_env_fn(env_cfg.id, env_cfg.kwargs, env_cfg.wrappers)()
    return load_demos(DemosConfig(path=str(path)), env_cfg, made.observation_space, made.action_space)


def test_demos_without_rewards_say_to_set_the_expert_return(tmp_path, identity_demos, capsys):
    from rlgen.envs.demos import read_demos

    demos = read_demos(identity_demos["rlgen/Identity-v0"])
    np.savez(tmp_path / "norew.npz", observations=demos.observations, actions=demos.actions,
             next_observations=demos.next_observations, terminations=demos.terminations,
             truncations=demos.truncations)
    _load(tmp_path / "norew.npz", "rlgen/Identity-v0")
    assert "hold no rewards" in (err := capsys.readouterr().err) and "demos.expert_return" in err
    _load(identity_demos["rlgen/Identity-v0"], "rlgen/Identity-v0")
    assert capsys.readouterr().err == ""


class Still:
    """Pendulum's torque 0."""

    def predict(self, obs, reward=0.0, deterministic=True):
        return np.zeros(1, np.float32)

    def reset(self):
        pass


def test_demos_recorded_with_other_env_kwargs_or_wrappers_warn(tmp_path, capsys):
    make = make_env_fn("Pendulum-v1", {"g": 9.0}, ["ClipAction"])
    demos = record_episodes(Still(), make, episodes=1).with_metadata(random_return=-1200.0)
    path = write_demos(demos, tmp_path / "pendulum.npz", env_id="Pendulum-v1")
    _load(path, "Pendulum-v1", kwargs={"g": 9.0}, wrappers=["ClipAction"])
    assert capsys.readouterr().err == ""  # the env they were recorded on
    _load(path, "Pendulum-v1")
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "'g': 9.0" in err and "ClipAction" in err


def test_resuming_on_other_demos_at_the_same_path_warns_once(tmp_path, identity_demos, capsys):
    from rlgen.envs.demos import read_demos

    demos = read_demos(identity_demos["rlgen/Identity-v0"])
    path = write_demos(demos, tmp_path / "demos.npz")
    first = rlgen.train(bc_config(tmp_path, "rlgen/Identity-v0", path, total=20))
    capsys.readouterr()
    rlgen.train(resume=first.run_dir, overrides=["train.total_steps=40"])
    assert "differ from the demos" not in capsys.readouterr().err  # the same demos: silent
    path.unlink()
    write_demos(demos.first(9), path)  # other demos where the run's were
    rlgen.train(resume=first.run_dir, overrides=["train.total_steps=60"])
    assert capsys.readouterr().err.count("differ from the demos") == 1


def test_bc_demos_of_another_env_are_refused(tmp_path, identity_demos):
    cfg = bc_config(tmp_path, "CartPole-v1", identity_demos["rlgen/Identity-v0"])
    with pytest.raises(rlgen.errors.RlgenError, match="record the demos on this env"):
        rlgen.train(cfg)


@pytest.mark.parametrize("env_id, change, says", [
    ("rlgen/Identity-v0", lambda d: {"actions": d.actions + 7}, "is not one of Discrete"),
    ("rlgen/Identity-v0", lambda d: {"actions": d.actions + 0.5}, "is not one of Discrete"),
    ("rlgen/Identity-v0", lambda d: {"observations": np.where(np.arange(len(d.observations)).reshape(
        -1, *[1] * (d.observations.ndim - 1)) == 3, np.nan, d.observations.astype(np.float64))},
     "observations hold NaN or infinity (row 3)"),
    ("rlgen/IdentityBox-v0", lambda d: {"actions": d.actions * 10}, "outside Box"),
    ("rlgen/IdentityBox-v0", lambda d: {"next_observations": np.repeat(d.next_observations, 2, axis=1)},
     "next_observations of shape (2,)"),
    ("rlgen/IdentityBox-v0", lambda d: {"rewards": np.where(np.arange(len(d.rewards)) == 2, np.nan, d.rewards)},
     "'rewards' holds nan at row 2 (1 such rows); rewards must be finite numbers"),  # read_demos says so first
    ("rlgen/Identity-v0", lambda d: {"observations": np.full_like(d.observations, 16)},
     "observation 16 is not one of Discrete(4) (whole numbers 0-3)"),
    ("rlgen/Identity-v0", lambda d: {"next_observations": np.full(d.next_observations.shape, 0.5)},
     "next observation 0.5 is not one"),
])
def test_bc_demos_with_values_the_env_cannot_hold_are_one_line(tmp_path, identity_demos, env_id, change, says):
    import dataclasses

    from rlgen.envs.demos import read_demos

    demos = read_demos(identity_demos[env_id])
    bad = write_demos(dataclasses.replace(demos, **change(demos)), tmp_path / "bad.npz")
    with pytest.raises(rlgen.errors.RlgenError, match=says.replace("(", r"\(").replace(")", r"\)")):
        rlgen.train(bc_config(tmp_path / "runs", env_id, bad))
    assert not (tmp_path / "runs").exists()


def test_a_npz_that_is_not_plain_arrays_is_one_line(tmp_path, identity_demos):
    text, objects = tmp_path / "text.npz", tmp_path / "objects.npz"
    text.write_text("observations,actions\n1,0\n")
    np.savez(objects, observations=np.array([{"a": 1}], dtype=object))
    for path in (text, objects):
        with pytest.raises(rlgen.errors.RlgenError, match="is not a .npz of plain arrays"):
            rlgen.train(bc_config(tmp_path / "runs", "rlgen/Identity-v0", path))


def test_bc_resumes_exactly(expert_demos):
    path = config_path("bc_cartpole")
    report = check_experiment("bc", "bc_cartpole", [*smoke_overrides(path), f"demos.path={expert_demos('ppo_cartpole')}",
                                                    "demos.episodes=null", "train.eval_episodes=2",
                                                    "train.eval_every=10"])
    assert report.exact and "loss/bc" in report.metric_names and "eval/bc_val_loss" in report.eval_names


@pytest.mark.parametrize("episodes", [2, 8])
def test_bc_resumed_with_another_number_of_eval_episodes_evaluates_on_fresh_envs(tmp_path, identity_demos, capsys,
                                                                                   episodes):
    first = rlgen.train(bc_config(tmp_path, "rlgen/Identity-v0", identity_demos["rlgen/Identity-v0"], total=20))
    capsys.readouterr()
    again = rlgen.train(resume=first.run_dir, overrides=["train.total_steps=40", f"train.eval_episodes={episodes}"])
    assert "the evaluation envs cannot be restored" in capsys.readouterr().err.replace("\n", " ")
    assert again.summary["status"] == "completed" and again.summary["global_step"] == 40
    with rlgen.load_run(first.run_dir) as run:  # its model now holds the new eval envs, and saves and loads
        assert run.experiment.model.n_envs == episodes


BATCH_NORM = {"algo": "ppo", "policy": {"backbone": {"type": "mlp", "hidden": [32], "norm": "batch"}}}


def test_a_last_batch_of_one_row_joins_the_batch_before_it(tmp_path, identity_demos):
    """8 training episodes of 20 steps: 160 rows in batches of 53 leave one row over, which batch
    norm refuses to train on alone; it joins the third batch, so an epoch is 3 steps."""
    from rlgen.agents.imitation.bc import BCTrainer

    raw = bc_config(tmp_path, "rlgen/Identity-v0", identity_demos["rlgen/Identity-v0"], total=6, agent=BATCH_NORM,
                    bc={"batch_size": 53})
    run = rlgen.train(raw)
    assert run.summary["status"] == "completed"
    trainer = run.experiment.trainer
    assert isinstance(trainer, BCTrainer) and len(trainer.obs) == 160
    rows = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["global_step"] for row in rows if "loss/bc" in row] == [3, 6]


def test_batch_norm_with_a_bc_batch_size_of_one_is_refused_in_one_line(tmp_path, identity_demos):
    from rlgen.errors import RlgenError

    raw = bc_config(tmp_path, "rlgen/Identity-v0", identity_demos["rlgen/Identity-v0"], agent=BATCH_NORM,
                    bc={"batch_size": 1})
    with pytest.raises(RlgenError, match=r"^bc.batch_size: batch norm in the policy \(agent.policy.backbone.norm: batch\) "
                                         r"needs batches of 2 or more; it is 1 \(raise it, or use norm: layer\)$"):
        rlgen.train(raw)
    assert not list(tmp_path.iterdir())

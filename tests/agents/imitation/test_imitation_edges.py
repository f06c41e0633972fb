"""Edges of the imitation kinds: maskable_ppo, an undefined expert ratio, `bc.init_from`'s source
run, BC's exported replay-buffer size, the demos' time limit, relative paths, tiny held-out splits."""

import math
import os
from dataclasses import replace

import numpy as np
import pytest
import torch

import rlgen
from rlgen.agents.imitation.data import holdout_rows
from rlgen.envs import make_env_fn, step_capped
from rlgen.envs.demos import expert_ratio, read_demos, write_demos
from rlgen.envs.recording import record_episodes
from rlgen.errors import ConfigError, RlgenError
from rlgen.testing import check_experiment
from tests.agents.imitation.test_bc import Identity, Still, _load, bc_config
from tests.agents.imitation.test_imitation import _built, gail_config


class Left:
    """CartPole's action 0, always: an env without action masks."""

    def predict(self, obs, reward=0.0, deterministic=True):
        return 0

    def reset(self):
        pass


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    root = tmp_path_factory.mktemp("edges")
    identity = record_episodes(Identity(), make_env_fn("rlgen/Identity-v0"), episodes=4, seed=0)
    cartpole = record_episodes(Left(), make_env_fn("CartPole-v1"), episodes=2, seed=0)
    return {"identity": write_demos(identity, root / "identity", env_id="rlgen/Identity-v0"),
            "cartpole": write_demos(cartpole, root / "cartpole.npz", env_id="CartPole-v1")}


# --- maskable_ppo ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["imitation", "bc"])
def test_maskable_ppo_on_an_env_without_masks_is_one_line_and_no_run_directory(tmp_path, demos, kind):
    agent = {"algo": "maskable_ppo", "hyperparams": {"n_steps": 64, "batch_size": 64}}
    make = gail_config if kind == "imitation" else bc_config
    args = (tmp_path / "runs", demos["cartpole"]) if kind == "imitation" else (tmp_path / "runs", "CartPole-v1",
                                                                              demos["cartpole"])
    raw = make(*args, total=64, agent=agent, env={"id": "CartPole-v1", "n_envs": 1})
    with pytest.raises(RlgenError, match=r"^agent\.algo: maskable_ppo needs action masks, and env 'CartPole-v1'"):
        rlgen.train(raw)
    assert not (tmp_path / "runs").exists()


def test_maskable_ppo_clones_behaviour_in_kind_bc_and_in_gail(tmp_path, demos):
    agent = {"algo": "maskable_ppo", "policy": {"backbone": {"type": "mlp", "hidden": [32]}}}
    final = rlgen.train(bc_config(tmp_path, "rlgen/Identity-v0", demos["identity"], agent=agent)).summary["final"]
    assert final["eval/return_mean"] == 20.0 and final["eval/bc_val_accuracy"] == 1.0
    exp = _built(tmp_path, gail_config(tmp_path, demos["identity"], agent={"algo": "maskable_ppo"},
                                       bc={"weight": 1.0, "warm_start_epochs": 1}))
    metrics = exp.train_unit()
    assert "loss/bc_warm_start" in metrics and math.isfinite(metrics["loss/bc"])
    exp.close()


def test_airl_with_maskable_ppo_is_refused_when_the_config_is_checked(tmp_path, demos):
    raw = gail_config(tmp_path, demos["identity"], agent={"algo": "maskable_ppo"}, imitation={"algo": "airl"})
    with pytest.raises(ConfigError) as e:
        rlgen.load_config(raw)
    assert any(p.startswith("agent.algo: AIRL's logit needs the learner's log pi(a|s) under the env's action masks")
               for p in e.value.problems), e.value.problems


@pytest.mark.parametrize("key", ["backbone", "potential"])
def test_a_discriminator_pooled_per_step_is_refused_when_the_config_is_checked(tmp_path, demos, key):
    body = {"type": "lstm", "hidden_size": 8, "pool": "sequence"}
    raw = gail_config(tmp_path, demos["identity"], imitation={"algo": "airl"}, discriminator={key: body},
                      env={"history": {"length": 2}})
    with pytest.raises(ConfigError) as e:
        rlgen.load_config(raw)
    assert f"discriminator.{key}.pool: 'sequence' gives no single judgement; use last or mean" in e.value.problems


# --- an undefined expert ratio -------------------------------------------------------------------


def test_the_expert_ratio_is_nan_where_it_has_no_scale():
    assert math.isnan(expert_ratio(-100.0, -200.0, -200.0))  # an expert no better than random
    assert math.isnan(expert_ratio(-100.0, -200.0))  # R / expert turns over for negative returns
    assert math.isnan(expert_ratio(3.0, 0.0))
    assert expert_ratio(50.0, 100.0) == 0.5 and expert_ratio(-100.0, -50.0, -200.0) == pytest.approx(2 / 3)


def test_an_undefined_expert_ratio_warns_stops_nothing_and_passes_the_protocol_check(tmp_path, demos, capsys):
    same = {"expert_return": 20.0, "random_return": 20.0}  # the expert's return is a random policy's too
    raw = gail_config(tmp_path, demos["identity"], total=512,
                      train={"eval_every": 256, "early_stop": {"metric": "eval/expert_ratio", "target": 0.95}})
    raw["demos"].update(same)
    run = rlgen.train(raw)
    assert "leaves eval/expert_ratio undefined (nan)" in capsys.readouterr().err
    assert run.summary["status"] == "completed" and run.summary["global_step"] == 512  # no early stop on NaN
    assert math.isnan(run.summary["final"]["eval/expert_ratio"])
    raw = gail_config(tmp_path, demos["identity"])
    raw["demos"].update(same)
    report = check_experiment("imitation", raw, units=1)
    assert "eval/expert_ratio" in report.eval_names


# --- bc.init_from -------------------------------------------------------------------------------


def _policy(run_dir, checkpoint=None):
    with rlgen.load_run(run_dir, checkpoint=checkpoint) as run:
        return {k: v.clone() for k, v in run.modules()["policy"].state_dict().items()}


def test_init_from_takes_the_best_checkpoint_of_a_finished_run(tmp_path, demos):
    worst_first = {"eval_every": 60, "early_stop": {"metric": "eval/bc_val_loss", "mode": "max"}}
    agent = {"algo": "ppo", "policy": {"backbone": {"type": "mlp", "hidden": [32]}},
             "hyperparams": {"n_steps": 64, "batch_size": 128, "n_epochs": 4}}
    bc = rlgen.train(bc_config(tmp_path, "rlgen/Identity-v0", demos["identity"], total=300, train=worst_first,
                               agent=agent))
    assert bc.summary["best"]["global_step"] < bc.summary["global_step"]  # the best is not the latest
    exp = _built(tmp_path, gail_config(tmp_path, demos["identity"], bc={"init_from": str(bc.run_dir)}))
    torch.manual_seed(123)  # not the state building a seed-0 run of this size ends in
    rng, threads = torch.get_rng_state(), torch.get_num_threads()
    exp._init_policy(bc.run_dir)
    assert torch.equal(torch.get_rng_state(), rng) and torch.get_num_threads() == threads  # this run's own
    mine, best, latest = exp.model.policy.state_dict(), _policy(bc.run_dir), _policy(bc.run_dir, "latest")
    assert all(torch.equal(mine[k], best[k]) for k in best)
    assert not all(torch.equal(mine[k], latest[k]) for k in latest)
    exp.close()


def test_init_from_takes_an_rl_experts_policy_and_names_what_does_not_fit(tmp_path, demos):
    expert = rlgen.train({
        "name": "ppo_identity", "kind": "rl", "seed": 0, "env": {"id": "rlgen/Identity-v0", "n_envs": 4},
        "agent": {"algo": "ppo", "policy": {"backbone": {"type": "mlp", "hidden": [32]}},
                  "hyperparams": {"n_steps": 64, "batch_size": 128, "n_epochs": 4}},
        "train": {"total_steps": 256, "eval_every": 256, "eval_episodes": 2, "progress": False},
        "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}}})
    exp = _built(tmp_path, gail_config(tmp_path, demos["identity"], bc={"init_from": str(expert.run_dir)}))
    exp._init_policy(expert.run_dir)
    theirs = _policy(expert.run_dir)
    assert all(torch.equal(exp.model.policy.state_dict()[k], theirs[k]) for k in theirs)
    exp.close()
    wider = gail_config(tmp_path, demos["identity"], bc={"init_from": str(expert.run_dir)},
                        agent={"policy": {"backbone": {"type": "mlp", "hidden": [48]}}})
    exp = _built(tmp_path, wider)
    with pytest.raises(RlgenError) as e:
        exp._init_policy(expert.run_dir)
    message = str(e.value)
    assert message.startswith("bc.init_from: the ActorCriticPolicy of") and "\n" not in message
    assert "features_extractor.net.layers.1.weight is (32, 4) there, (48, 4) here" in message, message
    assert "Error(s) in loading" not in message
    exp.close()


def test_init_from_a_missing_run_names_bc_init_from_and_leaves_no_run(tmp_path, demos):
    raw = gail_config(tmp_path / "runs", demos["identity"], total=256, bc={"init_from": str(tmp_path / "nowhere")})
    with pytest.raises(RlgenError, match=r"^bc\.init_from: .*nowhere"):
        rlgen.train(raw)
    assert not (tmp_path / "runs").exists()


# --- BC's exported replay buffer ------------------------------------------------------------------


@pytest.mark.parametrize("buffer_size", [5000, None])
def test_a_bc_run_exports_the_replay_buffer_size_its_config_implies(tmp_path, demos, buffer_size):
    from stable_baselines3 import SAC

    from rlgen.export import export

    box = write_demos(record_episodes(Identity(), make_env_fn("rlgen/IdentityBox-v0"), episodes=3, seed=0),
                      tmp_path / "box.npz", env_id="rlgen/IdentityBox-v0")
    hyperparams = {} if buffer_size is None else {"buffer_size": buffer_size}
    run = rlgen.train(bc_config(tmp_path, "rlgen/IdentityBox-v0", box, total=10,
                                agent={"algo": "sac", "policy": {"net_arch": [16]}, "hyperparams": hyperparams}))
    zip_path = export(run.run_dir, "sb3", tmp_path / "export")[0]
    assert SAC.load(zip_path).buffer_size == (buffer_size or 1_000_000)  # SB3's default


# --- the time limit the demos were recorded under --------------------------------------------------


def test_demos_recorded_under_another_time_limit_warn(tmp_path, capsys):
    still = record_episodes(Still(), make_env_fn("Pendulum-v1"), episodes=1).with_metadata(random_return=-1200.0)
    path = write_demos(still, tmp_path / "p.npz", env_id="Pendulum-v1")
    _load(path, "Pendulum-v1", kwargs={"max_episode_steps": 20})
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "max_episode_steps 200" in err and "max_episode_steps 20" in err
    _load(path, "Pendulum-v1")
    assert capsys.readouterr().err == ""
    # rlgen record caps an env without a limit of its own (as evaluation does): still the same env
    capped = make_env_fn("rlgen/Identity-v0", step_capped("rlgen/Identity-v0", {}, []), [])
    path = write_demos(record_episodes(Identity(), capped, episodes=1), tmp_path / "i.npz", env_id="rlgen/Identity-v0")
    _load(path, "rlgen/Identity-v0")
    assert capsys.readouterr().err == ""


# --- relative paths --------------------------------------------------------------------------------


def test_a_run_made_with_relative_paths_works_from_any_directory(tmp_path, demos, monkeypatch):
    import shutil

    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    shutil.copytree(demos["identity"], here / "demos" / "identity")
    elsewhere.mkdir()
    monkeypatch.chdir(here)
    raw = bc_config("runs", "rlgen/Identity-v0", "demos/identity", total=40, train={"eval_every": 20})
    run_dir = rlgen.train(raw).run_dir.absolute()
    saved = rlgen.load_config(run_dir / "config.yaml")
    assert saved.demos.path == str(here / "demos" / "identity")
    cfg = rlgen.load_config({**raw, "kind": "imitation", "discriminator": {"backbone": {"type": "mlp"}},
                             "bc": {"init_from": os.path.relpath(run_dir)}})
    assert cfg.bc.init_from == str(run_dir)
    assert rlgen.load_config(bc_config("runs", "rlgen/Identity-v0", "D4RL/door/human-v2")).demos.path == \
        "D4RL/door/human-v2"  # a dataset id, not a path here: as written
    monkeypatch.chdir(elsewhere)
    with rlgen.load_run(run_dir) as trained:
        assert "eval/bc_val_loss" in trained.evaluate(episodes=1)
    assert rlgen.train(resume=run_dir, overrides=["train.total_steps=60"]).summary["global_step"] == 60


# --- a held-out split of one episode ----------------------------------------------------------------


def test_one_episode_holds_out_its_share_of_rows_and_never_none_or_all(tmp_path, demos):
    one = read_demos(demos["identity"]).first(1)  # 20 rows
    train, held = holdout_rows(one, 0.5, seed=0)
    assert len(held) == 10 and len(train) == 10 and not set(train) & set(held)
    assert len(holdout_rows(one, 0.01, seed=0)[1]) == 1  # never nothing
    rows = ("observations", "actions", "next_observations", "rewards", "terminations", "truncations")
    single = replace(one, **{k: getattr(one, k)[:1] for k in rows}, lengths=np.array([1]))
    with pytest.raises(RlgenError, match=r"^bc\.holdout: 0\.5 of the 1 transition\(s\) of a single episode"):
        holdout_rows(single, 0.5, seed=0)


def test_an_eval_env_with_other_spaces_is_refused_at_setup_in_imitation_too(tmp_path, demos):
    """As in kind: rl: it crashed at the first evaluation, after training, and left a run behind."""
    raw = gail_config(tmp_path / "runs", demos["cartpole"], total=64, env={"id": "CartPole-v1", "n_envs": 1},
                      eval_env={"wrappers": ["TimeAwareObservation"]})
    with pytest.raises(RlgenError, match=r"^eval_env: its observation space Box\(5,\) .* training env's Box\(4,\)"):
        rlgen.train(raw)
    assert not list((tmp_path / "runs").rglob("config.yaml"))


class Swing:
    """Pendulum's torque +1, always."""

    def predict(self, obs, reward=0.0, deterministic=True):
        return np.array([1.0], dtype=np.float32)

    def reset(self):
        pass


def test_an_off_policy_imitation_unit_keeps_its_length_whatever_the_eval_and_checkpoint_schedule(tmp_path):
    """Each unit also runs disc_steps discriminator steps: cut at every evaluation and checkpoint
    (as kind: rl cuts off-policy units), those settings would change how much the discriminator
    trains per env step. Only train.total_steps cuts a unit."""
    from tests.agents.imitation.test_imitation import _built

    swings = record_episodes(Swing(), make_env_fn("Pendulum-v1"), episodes=1, seed=0)
    demos = write_demos(swings, tmp_path / "swing.npz", env_id="Pendulum-v1")
    raw = gail_config(tmp_path / "runs", demos, total=2500, env={"id": "Pendulum-v1", "n_envs": 1},
                      agent={"algo": "sac", "policy": {"backbone": {"type": "mlp", "hidden": [8]}},
                             "hyperparams": {"learning_starts": 10, "buffer_size": 500, "batch_size": 16}},
                      train={"total_steps": 2500, "eval_every": 1500, "checkpoint_every": 100, "eval_episodes": 1,
                             "progress": False})
    exp = _built(tmp_path, raw)
    try:
        steps = []
        for exp.global_step in (0, 150, 1000, 2000):
            steps.append(exp._off_policy_steps())
        assert exp.unit_steps == 1000 and steps == [1000, 1000, 1000, 500]
    finally:
        exp.close()


def test_an_action_noise_key_its_type_does_not_take_refuses_a_new_imitation_run(tmp_path):
    """As kind: rl's: `std` for sigma was dropped without a word, the learner trained with 0.1."""
    swings = record_episodes(Swing(), make_env_fn("Pendulum-v1"), episodes=1, seed=0)
    demos = write_demos(swings, tmp_path / "swing.npz", env_id="Pendulum-v1")
    noise = {"type": "normal", "std": 0.5}
    raw = gail_config(tmp_path / "runs", demos, total=200, env={"id": "Pendulum-v1", "n_envs": 1},
                      agent={"algo": "sac", "policy": {"backbone": {"type": "mlp", "hidden": [8]}},
                             "hyperparams": {"learning_starts": 10, "buffer_size": 500, "batch_size": 16,
                                             "action_noise": noise}},
                      train={"total_steps": 200, "eval_every": 200, "eval_episodes": 1, "progress": False})
    with pytest.raises(RlgenError, match=r"action_noise: normal noise takes no 'std' \(its keys: type, sigma\)"):
        rlgen.train(raw)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.yaml"))

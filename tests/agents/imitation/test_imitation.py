"""Adversarial imitation (`kind: imitation`): the learner sees only the discriminator's reward,
learns from it, resumes, and GAIL brings CartPole to the expert's level from 5 demos."""

import json

import numpy as np
import pytest
import torch

import rlgen
from rlgen.agents.imitation.experiment import ImitationExperiment
from rlgen.api import config_path
from rlgen.errors import ConfigError
from rlgen.logging import Logger
from rlgen.runner import RunContext
from rlgen.testing import check_experiment
from tests.agents.imitation.test_bc import Identity
from tests.test_configs import smoke_overrides
from rlgen.envs import make_env_fn
from rlgen.envs.demos import write_demos
from rlgen.envs.recording import record_episodes


@pytest.fixture(scope="module")
def identity_demos(tmp_path_factory):
    demos = record_episodes(Identity(), make_env_fn("rlgen/Identity-v0"), episodes=5, seed=0)
    return write_demos(demos, tmp_path_factory.mktemp("identity") / "demos", env_id="rlgen/Identity-v0")


def gail_config(tmp_path, demos, total=4096, **sections):
    raw = {
        "name": "gail_identity", "kind": "imitation", "seed": 0,
        "env": {"id": "rlgen/Identity-v0", "n_envs": 4},
        "demos": {"path": str(demos)},
        "agent": {"algo": "ppo", "policy": {"backbone": {"type": "mlp", "hidden": [32]}},
                  "hyperparams": {"n_steps": 64, "batch_size": 128, "n_epochs": 4}},
        "optim": {"type": "adam", "lr": 3e-3},
        "imitation": {"algo": "gail", "disc_steps": 4, "batch_size": 128},
        "discriminator": {"backbone": {"type": "mlp", "hidden": [32]}, "optim": {"lr": 1e-3}},
        "train": {"total_steps": total, "eval_every": total, "eval_episodes": 4, "progress": False},
        "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return raw


def _built(tmp_path, raw):
    cfg = rlgen.load_config(raw)
    exp = ImitationExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), cfg.seed))
    return exp


def test_the_learner_is_paid_by_the_discriminator_never_by_the_env(tmp_path, identity_demos):
    exp = _built(tmp_path, gail_config(tmp_path, identity_demos))
    exp.reward.__class__ = type("Seven", (type(exp.reward),), {
        "__call__": lambda self, obs, *a, **k: torch.full((len(obs),), 7.0)})  # the env pays 0 or 1
    metrics = exp.train_unit()
    buffer = exp.model.rollout_buffer
    ends = np.zeros_like(buffer.episode_starts, dtype=bool)
    ends[:-1] = buffer.episode_starts[1:] > 0  # the step before an episode start ended one (a time limit)
    assert ends.sum() >= 8 and np.all(buffer.rewards[~ends] == 7.0)  # SB3 adds gamma V(s_T) at time limits
    assert metrics["train/reward_mean"] == 7.0 and metrics["train/reward_std"] == 0.0
    assert 0.0 <= metrics["rollout/ep_return_mean"] <= 20.0  # the true return, logged from Monitor
    assert len(exp.learner_store) == exp.unit_steps == 256
    exp.close()


def test_an_off_policy_learner_samples_rewards_of_the_current_discriminator(tmp_path, identity_demos):
    raw = gail_config(tmp_path, identity_demos, agent={"algo": "dqn", "policy": {"backbone": {"type": "mlp"}},
                                                       "hyperparams": {"learning_starts": 0, "buffer_size": 1000}},
                      train={"eval_every": 100})
    exp = _built(tmp_path, raw)
    exp.train_unit()
    samples = exp.model.replay_buffer.sample(64)
    recomputed = exp.reward(samples.observations, samples.actions, samples.next_observations,
                            samples.dones.reshape(-1) > 0.5, scaled_actions=True)
    assert torch.allclose(samples.rewards.reshape(-1), recomputed)
    with torch.no_grad():  # the discriminator moves: so do the rewards sampled next
        for p in exp.disc.parameters():
            p.add_(0.5)
    assert not torch.allclose(exp.model.replay_buffer._get_samples(np.arange(64)).rewards, samples.rewards)
    exp.close()


def test_gail_learns_the_identity_env_and_reports_the_discriminator(tmp_path, identity_demos):
    run = rlgen.train(gail_config(tmp_path, identity_demos, total=8192))
    final = run.summary["final"]
    assert final["eval/return_mean"] >= 19.0 and final["eval/expert_ratio"] >= 0.9, final
    rows = [line for line in (run.run_dir / "metrics.jsonl").read_text().splitlines() if "gan/loss_d" in line]
    assert rows and all(k in rows[-1] for k in ("gan/accuracy_expert", "gan/accuracy_learner", "train/reward_std"))
    with rlgen.load_run(run.run_dir) as trained:
        assert set(trained.modules()) == {"policy", "value", "discriminator"}  # the critic has its own backbone
        agent = trained.agent()
        assert sum(int(agent.predict(i)) == i for i in range(4)) >= 3


def test_a_bc_warm_start_gives_the_learner_the_expert_before_any_env_step(tmp_path, identity_demos):
    raw = gail_config(tmp_path, identity_demos, total=256, bc={"warm_start_epochs": 20, "batch_size": 32})
    exp = _built(tmp_path, raw)
    metrics = exp.train_unit()
    assert metrics["loss/bc_warm_start"] < 0.1
    obs = np.arange(4)
    assert list(exp.predict(obs)) == [0, 1, 2, 3]
    exp.close()


def test_imitation_config_problems(tmp_path, identity_demos):
    bad = gail_config(tmp_path, identity_demos, imitation={"reward": "shaped"},
                      discriminator={"backbone": {"type": "lstm"}}, env={"normalize": {"obs": True}})
    with pytest.raises(ConfigError) as e:
        rlgen.load_config(bad)
    found = " | ".join(e.value.problems)
    assert "imitation.reward: shaped" in found and "env.history" in found and "env.normalize.obs" in found
    airl = gail_config(tmp_path, identity_demos, imitation={"algo": "airl"},
                       agent={"algo": "dqn", "policy": {}, "hyperparams": {}})
    with pytest.raises(ConfigError, match="log pi"):
        rlgen.load_config(airl)


# Exact: the SB3 learner's envs, episodes in progress and `_last_obs` are checkpointed (as for
# kind: rl), and so is everything the imitation kind adds (discriminator, its optimizer, the
# transition stores, the RNG, the relabeled replay buffer as arrays).
@pytest.mark.parametrize("exact", [pytest.param(True, id="exact")])
@pytest.mark.parametrize("name, expert, extra", [("gail_cartpole", "ppo_cartpole", []),
                                                 ("gail_pendulum", "sac_pendulum", ["train.eval_every=100"])])
def test_honours_the_experiment_protocol(name, expert, extra, exact, expert_demos):
    report = check_experiment("imitation", name, [*smoke_overrides(config_path(name)), "train.eval_episodes=2",
                                                  f"demos.path={expert_demos(expert)}", "demos.episodes=null", *extra],
                              exact=exact)
    assert report.exact is exact
    assert {"gan/loss_d", "gan/accuracy_expert", "train/reward_mean"} <= set(report.metric_names)
    assert "eval/expert_ratio" in report.eval_names


@pytest.mark.slow
def test_gail_with_5_demos_brings_cartpole_to_the_expert(tmp_path):
    expert = rlgen.train("ppo_cartpole", [f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                                          "train.progress=false", "logging.console=false"])
    assert expert.summary["final"]["eval/return_mean"] >= 475
    demos = rlgen.record(expert.run_dir, 5, tmp_path / "demos")
    run = rlgen.train("gail_cartpole", [f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.progress=false",
                                        "logging.console=false", f"demos.path={demos}", "demos.episodes=5"])
    assert run.summary["best"]["value"] >= 0.95  # eval/expert_ratio
    assert run.summary["final"]["eval/return_mean"] >= 475, run.summary["final"]


def test_a_sweep_over_the_discriminators_loss_and_penalties(tmp_path, expert_demos, capsys):
    import yaml

    from rlgen.cli import main

    bundled = yaml.safe_load((config_path("gail_cartpole").parent / "sweeps" / "gail_cartpole.yaml").read_text())
    sweep = {**bundled, "n_trials": 3, "pruner": {"type": "none"}, "sampler": {"type": "random", "seed": 1},
             "overrides": [f"demos.path={expert_demos('ppo_cartpole')}", "demos.episodes=null", "train.total_steps=1024",
                           "train.eval_every=512", "train.eval_episodes=2", f"logging.dir={tmp_path}",
                           "logging.wandb.mode=disabled", "logging.console=false", "train.progress=false"]}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    assert main(["sweep", str(tmp_path / "sweep.yaml")]) == 0
    assert "best: trial" in capsys.readouterr().err
    trials = [rlgen.load_config(p) for p in (tmp_path / "gail_cartpole_sweep").glob("*/config.yaml")]
    assert len(trials) == 3
    assert len({(t.discriminator.loss, t.discriminator.gradient_penalty, t.discriminator.r1, t.imitation.reward)
                 for t in trials}) > 1  # the trials differ in the discriminator's objective
    best = rlgen.load_config(tmp_path / "gail_cartpole_sweep" / "best.yaml")
    assert best.kind == "imitation" and best.train.early_stop.metric == "eval/expert_ratio"


def test_a_bc_run_is_the_warm_start_of_imitation_and_runs_evaluate_without_their_demos(tmp_path, identity_demos):
    import shutil

    from tests.agents.imitation.test_bc import bc_config

    demos = shutil.copytree(identity_demos, tmp_path / "demos")  # this test takes them away
    bc = rlgen.train(bc_config(tmp_path, "rlgen/Identity-v0", demos, total=300,
                               agent={"algo": "ppo", "policy": {"backbone": {"type": "mlp", "hidden": [32]}},
                                      "hyperparams": {"n_steps": 64, "batch_size": 128, "n_epochs": 4}}))
    exp = _built(tmp_path, gail_config(tmp_path, demos, bc={"init_from": str(bc.run_dir)}))
    assert list(exp.predict(np.arange(4))) != [0, 1, 2, 3]  # a fresh policy ...
    exp._init_policy(bc.run_dir)  # ... replaced at the first unit by the BC run's
    assert list(exp.predict(np.arange(4))) == [0, 1, 2, 3]
    exp.close()
    run = rlgen.train(gail_config(tmp_path, demos, total=512, bc={"init_from": str(bc.run_dir)}))
    shutil.rmtree(demos)  # evaluating and acting need no demos: the checkpoints keep the reference returns
    for finished in (bc.run_dir, run.run_dir):
        with rlgen.load_run(finished) as trained:
            assert trained.evaluate(episodes=2)["eval/expert_ratio"] >= 0.9
            assert int(trained.agent().predict(2)) == 2
    with pytest.raises(rlgen.errors.RlgenError, match="demos.path: demos not found"):
        rlgen.train(gail_config(tmp_path, demos, total=512))  # training does


def test_the_same_seed_gives_the_same_imitation_run(tmp_path, identity_demos):
    def rows(seed, where):
        run = rlgen.train(gail_config(tmp_path / where, identity_demos, total=512, seed=seed,
                                      discriminator={"gradient_penalty": 1.0}))
        lines = (run.run_dir / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if not k.startswith(("time/", "eval/wall"))}
                for line in lines]

    first = rows(0, "a")
    assert any("gan/loss_d" in r for r in first)
    assert rows(0, "b") == first  # every logged number, the discriminator's included
    assert rows(1, "c") != first


@pytest.mark.parametrize("fmt", ["sb3", "torchscript"])
def test_bc_and_imitation_runs_export_like_rl_runs(tmp_path, identity_demos, fmt):
    from rlgen.export import export
    from tests.agents.imitation.test_bc import bc_config

    runs = [rlgen.train(bc_config(tmp_path / "bc", "rlgen/Identity-v0", identity_demos, total=100)),
            rlgen.train(gail_config(tmp_path / "gail", identity_demos, total=256))]
    for run in runs:
        files = export(run.run_dir, fmt, tmp_path / f"{run.config.kind}-{fmt}")
        assert files and all(f.is_file() and f.stat().st_size > 0 for f in files)
    if fmt == "sb3":  # SB3's own loader reads the learner back, without rlgen's discriminator
        from stable_baselines3 import PPO

        model = PPO.load(tmp_path / f"imitation-{fmt}" / "model.zip", device="cpu")
        assert model.policy is not None


@pytest.mark.parametrize("algo", ["gail", "airl"])
def test_two_runs_of_one_seed_save_the_same_state(tmp_path, identity_demos, algo):
    """Nothing draws from an unseeded generator (a space's `sample()` seeds itself from the OS)."""
    from rlgen import checkpoint
    from rlgen.testing_diff import _differences

    states = []
    for i in range(2):
        raw = gail_config(tmp_path / str(i), identity_demos, total=256, imitation={"algo": algo},
                          agent={"hyperparams": {"n_steps": 32, "batch_size": 64, "n_epochs": 1}})
        states.append(checkpoint.load(rlgen.train(raw).run_dir))
    a, b = states
    assert not _differences({**a["experiment"], "rng": a["rng"]}, {**b["experiment"], "rng": b["rng"]}, True,
                            ("first", "second"))


def test_an_off_policy_imitation_run_exports_the_learner_alone(tmp_path, expert_demos):
    """gail_pendulum: SAC relabelled by a spectral-normed discriminator, which no pickle takes."""
    from stable_baselines3 import SAC
    from stable_baselines3.common.buffers import ReplayBuffer

    from rlgen.export import export
    from tests.test_configs import smoke_overrides

    run = rlgen.train("gail_pendulum", [*smoke_overrides(config_path("gail_pendulum")), "train.eval_episodes=1",
                                        f"demos.path={expert_demos('sac_pendulum')}", "demos.episodes=null",
                                        f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.progress=false"])
    (zip_path, *_) = export(run.run_dir, "sb3", tmp_path / "sb3")
    model = SAC.load(zip_path, device="cpu")
    assert model.replay_buffer_class is ReplayBuffer and model.replay_buffer_kwargs == {}
    with rlgen.load_run(run.run_dir) as again:  # the run itself still relabels
        assert "reward_fn" in again.experiment.model.replay_buffer_kwargs


def test_the_discriminator_takes_init_and_is_a_transfer_source(tmp_path, identity_demos):
    """Its role's trunk is its body (not the input statistics and head); a spectral-normed one
    gives its normalized weights, so it fits a plain backbone of the same sizes."""
    from rlgen.transfer import plain_state, trunk

    source = rlgen.train(gail_config(tmp_path / "a", identity_demos, total=256,
                                     discriminator={"spectral_norm": True}))
    with rlgen.load_run(source.run_dir) as run:
        body = trunk(run.modules()["discriminator"])
        body.eval()
        with torch.no_grad():
            expected = {k: v.clone() for k, v in plain_state(body).items()}
    init = {"run": str(source.run_dir), "role": "discriminator", "freeze": True}
    target = rlgen.train(gail_config(tmp_path / "b", identity_demos, total=256,
                                     discriminator={"backbone": {"type": "mlp", "hidden": [32], "init": init}}))
    with rlgen.load_run(target.run_dir) as run:
        got = trunk(run.modules()["discriminator"])
        assert set(got.state_dict()) == set(expected)
        for k, v in got.state_dict().items():  # loaded, and still equal after training: frozen
            assert torch.equal(v, expected[k]), k
        assert not any(p.requires_grad for p in got.parameters())

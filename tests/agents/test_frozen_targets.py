"""A frozen backbone (`init: {freeze: true}`) stays bit-identical in the target networks of the
off-policy algorithms too: SB3's polyak update t <- (1 - tau) t + tau p would move the target's copy
by rounding although its source never changes."""

import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

import rlgen
from rlgen.agents.rl.algos import ALGOS, is_off_policy
from rlgen.agents.rl.sb3_bridge import BackboneExtractor, SB3Learner
from rlgen.transfer import restoring, trunk

from .rl_helpers import resumed_from_first_checkpoint, rl_config

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false",
         "train.early_stop.target=null", "train.eval_episodes=1"]
TINY = ["agent.policy.backbone={type: mlp, hidden: [16]}", "agent.policy.net_arch=[16]",
        "agent.hyperparams.learning_starts=10", "agent.hyperparams.buffer_size=500",
        "agent.hyperparams.batch_size=16"]
OFF_POLICY = [a for a in ALGOS if is_off_policy(a)]


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a, b):
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def _extractors(policy):
    """Every rlgen extractor of an SB3 policy by where it sits (actor, critic_target, q_net, ...)."""
    return {name: m for name, m in policy.named_modules() if isinstance(m, BackboneExtractor)}


@pytest.fixture(scope="module")
def pendulum_source(tmp_path_factory):
    """A tiny SAC run on Pendulum-v1, the source of the frozen backbone (an MLP 3 -> 16)."""
    root = tmp_path_factory.mktemp("source")
    run = rlgen.train("sac_pendulum", [*QUIET, *TINY, f"logging.dir={root}", "train.total_steps=30",
                                       "train.eval_every=30"])
    with rlgen.load_run(run.run_dir) as source:
        return run.run_dir, _state(trunk(source.modules()["policy"]))


@pytest.mark.parametrize("config", ["sac_pendulum", "td3_pendulum"])
def test_a_frozen_backbone_stays_the_sources_in_every_network_of_the_policy(pendulum_source, tmp_path, config):
    source, weights = pendulum_source
    run = rlgen.train(config, [*QUIET, *TINY, f"logging.dir={tmp_path}", "train.total_steps=100",
                               "train.eval_every=100", "agent.hyperparams.tau=0.05",
                               f"agent.policy.backbone.init={{run: '{source}', role: policy, freeze: true}}"])
    with rlgen.load_run(run.run_dir) as trained:
        policy = trained.modules()["policy"]
        where = _extractors(policy)
        assert {"critic_target.features_extractor", "actor.features_extractor"} <= set(where)
        for name, extractor in where.items():
            assert _same(_state(extractor.net), weights), f"{name} moved off the frozen source weights"
        # the target networks did move toward their trained heads: the updates ran
        assert not torch.equal(policy.critic_target.q_networks[0][-1].weight, policy.critic.q_networks[0][-1].weight)


@pytest.mark.parametrize("algo", OFF_POLICY)
def test_every_off_policy_algorithm_leaves_frozen_target_tensors_alone(tmp_path, algo):
    """Each off-policy algorithm rlgen offers, with a target update at every step and tau < 1
    (0.05: some taus, 0.3 or 0.5, happen to round back to the same float)."""
    discrete = algo in ("dqn", "qrdqn")
    env_id = "CartPole-v1" if discrete else "Pendulum-v1"
    hyperparams = {"learning_starts": 10, "buffer_size": 500, "batch_size": 16, "tau": 0.05,
                   **({"target_update_interval": 1} if discrete else {})}
    cfg = rl_config(tmp_path, algo, env_id, n_envs=1, total=100, hyperparams=hyperparams,
                    agent={"algo": algo, "hyperparams": hyperparams, "policy": {
                        "backbone": {"type": "mlp", "hidden": [16], "init": {"run": "unused", "role": "policy",
                                                                            "freeze": True}},
                        "net_arch": [16]}})
    with restoring():  # freeze without loading: the freshly initialised backbone is what must stay
        learner = SB3Learner(ALGOS[algo], "MlpPolicy", make_vec_env(env_id, n_envs=1, seed=0), cfg.optim,
                             cfg.agent.policy, hyperparams, seed=0, device="cpu")
    policy = learner.model.policy
    before = {name: _state(m.net) for name, m in _extractors(policy).items()}
    heads = {name: _state(m) for name, m in policy.named_children() if name.endswith("_target")}
    assert heads, "no target network"
    learner.model.learn(100)
    for name, extractor in _extractors(policy).items():
        assert _same(_state(extractor.net), before[name]), f"{name} moved off its frozen weights"
    for name, head in heads.items():
        assert not _same(_state(getattr(policy, name)), head), f"{name} never updated"


@pytest.mark.parametrize("config", ["sac_pendulum", "td3_pendulum"])
def test_a_frozen_off_policy_run_resumes_bit_for_bit(pendulum_source, tmp_path, config):
    """Resumed from its first checkpoint (the runner builds it under `transfer.restoring()`), the run
    skips the frozen tensors in its target updates as the straight run did: the same final state."""
    from rlgen.testing_diff import _differences

    source, _ = pendulum_source
    overrides = [*QUIET, *TINY, "agent.hyperparams.tau=0.05", "train.total_steps=120", "train.eval_every=40",
                 "train.checkpoint_every=40", "train.keep_checkpoints=10", "train.early_stop.metric=eval/none",
                 f"agent.policy.backbone.init={{run: '{source}', role: policy, freeze: true}}"]
    straight = rlgen.train(config, [*overrides, f"logging.dir={tmp_path / 'straight'}"]).run_dir
    a, b, first = resumed_from_first_checkpoint(straight, tmp_path / "crashed")
    assert a["global_step"] == b["global_step"] > first
    diff = _differences(a["experiment"], b["experiment"], True, ("straight", "resumed"))
    assert not diff, diff[:5]


def test_a_policy_with_a_frozen_backbone_round_trips_through_torch_save(tmp_path):
    """`torch.save(module)` / `torch.load(weights_only=False)` and deepcopy keep what freezing added:
    the backbone stays in eval mode and the target update still passes the frozen tensors by."""
    import copy

    from rlgen.transfer import is_frozen

    hyperparams = {"learning_starts": 10, "buffer_size": 500, "batch_size": 16, "tau": 0.05}
    cfg = rl_config(tmp_path, "sac", "Pendulum-v1", n_envs=1, total=100, hyperparams=hyperparams,
                    agent={"algo": "sac", "hyperparams": hyperparams, "policy": {
                        "backbone": {"type": "mlp", "hidden": [16], "init": {"run": "unused", "role": "policy",
                                                                            "freeze": True}},
                        "net_arch": [16]}})
    with restoring():
        learner = SB3Learner(ALGOS["sac"], "MlpPolicy", make_vec_env("Pendulum-v1", n_envs=1, seed=0), cfg.optim,
                             cfg.agent.policy, hyperparams, seed=0, device="cpu")
    torch.save(learner.model.policy, tmp_path / "policy.pt")
    for policy in (torch.load(tmp_path / "policy.pt", weights_only=False), copy.deepcopy(learner.model.policy)):
        policy.train()
        nets = [m.net for m in _extractors(policy).values()]
        assert nets and all(is_frozen(n) and not n.training for n in nets)
        online, target = policy.critic, policy.critic_target
        assert len(list(target.parameters())) == len(list(online.parameters())) < len(list(online.state_dict()))
        assert target.parameters.args[0] is target  # bound to the copy, not to the original

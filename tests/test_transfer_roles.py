"""Transfer's roles and targets beyond the plain case: a frozen trunk in a spectral-normed
discriminator computes what its source did, and every SB3 policy layout rlgen wires (on-policy,
off-policy, an imitation learner's) offers its critic's backbone as the `value` role."""

import gymnasium as gym
import pytest
import torch

import rlgen
from rlgen.agents.gan.config import DiscriminatorConfig
from rlgen.agents.gan.players import Discriminator
from rlgen.agents.imitation.config import ImitationDiscriminatorConfig
from rlgen.agents.imitation.discriminator import Discriminator as ImitationDiscriminator
from rlgen.experiment import RunContext
from rlgen.logging import Logger
from rlgen.cli import main
from rlgen.transfer import trunk
from tests.agents.imitation.test_imitation import gail_config, identity_demos  # noqa: F401  (a fixture)

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a, b):
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def _built(config, tmp_path, overrides=()):
    cfg = rlgen.load_config(config, [*QUIET, f"logging.dir={tmp_path}", *overrides])
    exp = rlgen.make_experiment(cfg)
    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    return exp


# --- a frozen trunk under spectral norm -----------------------------------------------------------


@pytest.fixture(scope="module")
def ring_discriminator(tmp_path_factory):
    """A few steps of a GAN on the ring of 8 Gaussians without spectral norm: its discriminator's
    trunk is an MLP 2 -> 16 -> 16 whose top singular values are not 1."""
    root = tmp_path_factory.mktemp("ring")
    mlp = "{type: mlp, hidden: [16, 16], activation: relu}"
    run = rlgen.train("gan_ring8", [*QUIET, f"logging.dir={root}", f"generator.backbone={mlp}",
                                    f"discriminator.backbone={mlp}", "train.total_steps=20", "train.eval_every=20",
                                    "eval.samples=200", "generator.ema=null"])
    with rlgen.load_run(run.run_dir) as source:
        net = trunk(source.modules()["discriminator"])
        assert any(torch.linalg.matrix_norm(t, 2) > 1.05 for k, t in net.state_dict().items() if t.dim() == 2)
        return run.run_dir, net


def _init(run_dir, freeze):
    return {"run": str(run_dir), "role": "discriminator", "freeze": freeze}


def test_a_frozen_trunk_in_a_spectral_normed_gan_discriminator_computes_what_its_source_did(ring_discriminator,
                                                                                          tmp_path):
    run_dir, source = ring_discriminator
    frozen = ("{type: mlp, hidden: [16, 16], activation: relu, "
              "init: {run: '" + str(run_dir) + "', role: discriminator, freeze: true}}")
    run = rlgen.train("gan_ring8", [*QUIET, f"logging.dir={tmp_path}", "generator.backbone={type: mlp, hidden: [16]}",
                                    f"discriminator.backbone={frozen}", "discriminator.spectral_norm=true",
                                    "train.total_steps=20", "train.eval_every=10", "eval.samples=200",
                                    "generator.ema=null"])
    x = torch.randn(64, 2)
    with rlgen.load_run(run.run_dir) as trained:  # trained, checkpointed and loaded again
        D = trained.modules()["discriminator"]
        assert _same(_state(D.body), _state(source)) and torch.equal(D.body(x), source(x))
        assert hasattr(D.head.linear, "parametrizations")  # what trains is still normalised


def test_a_frozen_imitation_trunk_and_potential_stay_their_sources_under_spectral_norm(ring_discriminator):
    run_dir, source = ring_discriminator
    backbone = {"type": "mlp", "hidden": [16, 16], "activation": "relu"}
    cfg = ImitationDiscriminatorConfig.model_validate({
        "backbone": {**backbone, "init": _init(run_dir, True)}, "input": "s", "spectral_norm": True,
        "potential": {**backbone, "init": _init(run_dir, True)}})
    disc = ImitationDiscriminator(cfg, "airl", gym.spaces.Box(-10, 10, (2,)), gym.spaces.Box(-1, 1, (1,)), False, 0.9)
    x = torch.randn(64, 2)
    for part in (disc.body, disc.potential):
        assert _same(_state(part), _state(source)) and torch.equal(part(x), source(x))
    assert hasattr(disc.head.linear, "parametrizations") and hasattr(disc.potential_head.linear, "parametrizations")


def test_an_unfrozen_trunk_under_spectral_norm_trains_normalised_from_the_sources_weights(ring_discriminator):
    run_dir, source = ring_discriminator
    cfg = DiscriminatorConfig(backbone={"type": "mlp", "hidden": [16, 16], "activation": "relu",
                                        "init": _init(run_dir, False)}, spectral_norm=True)
    D = Discriminator(cfg, "points", (2,), 0, "none")
    first = D.body.layers[1]  # layers[0] flattens
    assert torch.equal(first.parametrizations.weight.original, source.state_dict()["layers.1.weight"])
    assert torch.linalg.matrix_norm(first.weight.detach(), 2) == pytest.approx(1.0, abs=1e-3)


# --- the value role of every layout ---------------------------------------------------------------

PENDULUM_OFF = ["agent.policy.backbone={type: mlp, hidden: [16]}", "agent.policy.net_arch=[16]",
                "agent.hyperparams.learning_starts=10", "agent.hyperparams.buffer_size=500",
                "agent.hyperparams.batch_size=16", "train.eval_episodes=1", "train.early_stop.target=null"]


@pytest.mark.parametrize("config, overrides, critic", [
    ("ppo_cartpole", ["agent.policy.share_backbone=false"], "vf_features_extractor"),
    ("sac_pendulum", PENDULUM_OFF, "critic.features_extractor"),
    ("td3_pendulum", PENDULUM_OFF, "critic.features_extractor"),
    ("sac_pendulum", [*PENDULUM_OFF, "agent.algo=tqc"], "critic.features_extractor"),
], ids=["ppo", "sac", "td3", "tqc"])
@pytest.mark.parametrize("shared", [False, True], ids=["own", "shared"])
def test_the_value_role_is_the_critics_extractor_in_every_layout(config, overrides, critic, shared, tmp_path):
    exp = _built(config, tmp_path, [*overrides, f"agent.policy.share_backbone={str(shared).lower()}"])
    try:
        roles, policy = exp.modules(), exp.model.policy
        assert roles["policy"] is policy and roles["value"] is policy.get_submodule(critic)
        actor = trunk(policy)
        assert (trunk(roles["value"]) is actor) == shared
    finally:
        exp.close()


def test_a_q_learner_has_no_value_role(tmp_path):
    exp = _built("dqn_cartpole", tmp_path, ["agent.policy.backbone={type: mlp, hidden: [16]}"])
    try:
        assert list(exp.modules()) == ["policy"]
    finally:
        exp.close()


def test_an_off_policy_critics_backbone_starts_another_run(tmp_path):
    source = rlgen.train("sac_pendulum", [*QUIET, *PENDULUM_OFF, f"logging.dir={tmp_path / 'src'}",
                                          "train.total_steps=30", "train.eval_every=30"]).run_dir
    with rlgen.load_run(source) as run:
        critic, actor = _state(trunk(run.modules()["value"])), _state(trunk(run.modules()["policy"]))
    assert not _same(critic, actor)
    exp = _built("ppo_cartpole", tmp_path, [
        "env.id=Pendulum-v1", "agent.policy.backbone={type: mlp, hidden: [16], init: {run: '" + str(source) + "', "
        "role: value, freeze: true}}"])
    try:
        assert _same(_state(trunk(exp.modules()["policy"])), critic)
    finally:
        exp.close()


def test_an_imitation_learners_critic_is_a_role_that_transfers(tmp_path, identity_demos):  # noqa: F811
    raw = gail_config(tmp_path / "src", identity_demos, total=256,
                      agent={"algo": "ppo", "policy": {"backbone": {"type": "mlp", "hidden": [32]},
                                                       "share_backbone": False},
                             "hyperparams": {"n_steps": 64, "batch_size": 128, "n_epochs": 1}})
    source = rlgen.train(raw).run_dir
    with rlgen.load_run(source) as run:
        roles = run.modules()
        assert set(roles) == {"policy", "value", "discriminator"}
        assert roles["value"] is roles["policy"].vf_features_extractor
        critic = _state(trunk(roles["value"]))
        assert not _same(critic, _state(trunk(roles["policy"])))
    exp = _built("ppo_cartpole", tmp_path, [
        "env.id=rlgen/Identity-v0", "env.normalize=null",
        "agent.policy.backbone={type: mlp, hidden: [32], init: {run: '" + str(source) + "', role: value}}"])
    try:
        assert _same(_state(trunk(exp.modules()["policy"])), critic)
    finally:
        exp.close()


@pytest.mark.parametrize("config, overrides", [
    ("recurrent_ppo_cartpole_novel", ["agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32"]),
    ("ppo_cartpole", ["agent.policy.backbone=null", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32"]),
], ids=["recurrent_ppo", "backbone_null"])
def test_roles_without_an_rlgen_backbone_are_listed_and_refused_as_an_init(config, overrides, tmp_path, capsys):
    """An RL policy of SB3's own layers (recurrent_ppo keeps its LSTM itself; `backbone: null`
    uses SB3's extractor): `rlgen inspect` crashed describing it, and an init naming it crashed too,
    leaving a failed run's folder."""
    source = rlgen.train(config, [*QUIET, *overrides, f"logging.dir={tmp_path / 'src'}", "env.n_envs=2",
                                  "agent.hyperparams.n_epochs=1", "train.total_steps=32", "train.eval_every=32",
                                  "train.eval_episodes=1"]).run_dir
    assert main(["inspect", str(source), "--tensors"]) == 0
    out = capsys.readouterr().out
    assert "policy" in out and "value" in out and out.count("none from rlgen") == 2, out
    target = tmp_path / "target"
    init = "{run: '" + str(source) + "', role: policy}"
    assert main(["train", "ppo_cartpole", "--run-dir", str(target), *QUIET,
                 "agent.policy.backbone={type: mlp, hidden: [16], init: " + init + "}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: agent.policy.backbone.init: the policy of {source} has no rlgen backbone to load")
    assert len(err.splitlines()) == 1 and not target.exists()

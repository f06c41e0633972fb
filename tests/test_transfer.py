"""Transfer (`init:` on any backbone): the named role's backbone arrives bit for bit, a frozen one
stays so through training, a shape mismatch is one readable error, and backbones move between an
autoencoder, a classifier, a GAN discriminator and an RL policy."""

import warnings

import pytest
import torch

import rlgen
from rlgen.cli import main
from rlgen.errors import RlgenError
from rlgen.transfer import describe, resolve_run, trunk

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
MINATAR_PPO = ["env.n_envs=2", "agent.hyperparams.n_steps=64", "agent.hyperparams.batch_size=64",
               "train.total_steps=512", "train.eval_every=512", "train.eval_episodes=2"]


def _train(config, tmp_path, *overrides):
    run = rlgen.train(config, [*QUIET, f"logging.dir={tmp_path}", *overrides])
    assert run.summary["status"] in ("completed", "stopped_early")
    return run.run_dir


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a, b):
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def digits_encoder(tmp_path_factory):
    """A small autoencoder trained on digits (its encoder is an MLP 64 -> 32)."""
    root = tmp_path_factory.mktemp("ae")
    run_dir = _train("autoencoder_digits", root, "encoder.backbone={type: mlp, hidden: [64, 32]}",
                     "decoder.backbone={type: mlp, hidden: [32]}", "train.total_steps=60", "train.eval_every=60",
                     "fit.steps_per_unit=30")
    with rlgen.load_run(run_dir) as run:
        return run_dir, _state(trunk(run.modules()["encoder"]))


def _classifier(tmp_path, run_dir, **init):
    spec = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in init.items())
    return ["model.backbone={type: mlp, hidden: [64, 32], init: {run: '" + str(run_dir) + "', role: encoder, "
            + spec + "}}", "model.backbone.norm=none", "train.eval_every=100", "fit.steps_per_unit=50"]


def test_init_loads_the_named_role_bit_for_bit(digits_encoder, tmp_path):
    run_dir, encoder = digits_encoder
    cfg = rlgen.load_config("supervised_digits", [*QUIET, *_classifier(tmp_path, run_dir, freeze=False)])
    exp = rlgen.make_experiment(cfg)
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    assert _same(_state(exp.model.backbone), encoder)


def test_a_run_with_a_transferred_backbone_outlives_its_source(digits_encoder, tmp_path):
    """Its checkpoint holds the weights: eval and resume need the source run no more."""
    import shutil

    source = tmp_path / "source"
    shutil.copytree(digits_encoder[0], source, ignore=shutil.ignore_patterns(".lock"))
    run_dir = _train("supervised_digits", tmp_path / "runs", *_classifier(tmp_path, source, freeze=True),
                     "train.total_steps=100")
    def scores():
        with rlgen.load_run(run_dir) as run:
            return {k: v for k, v in run.evaluate().items() if isinstance(v, float)}

    before = scores()
    shutil.rmtree(source)
    assert scores() == before and before
    resumed = rlgen.train(resume=run_dir, overrides=[*QUIET, "train.total_steps=200"])
    assert resumed.summary["status"] == "completed" and resumed.summary["global_step"] == 200


def test_check_experiment_resumes_a_transferred_backbone_without_its_source(digits_encoder, tmp_path, monkeypatch):
    """As the runner does: the copy that receives the checkpoint loads no `init`, so the source run
    is opened once, for the original, and may be gone by the resume."""
    import rlgen.transfer
    from rlgen.testing import check_experiment

    opened, load_trunk = [], rlgen.transfer.load_trunk
    monkeypatch.setattr(rlgen.transfer, "load_trunk", lambda init, *at: opened.append(init) or load_trunk(init, *at))
    check_experiment("supervised", "supervised_digits", _classifier(tmp_path, digits_encoder[0], freeze=True),
                     units=1)
    assert len(opened) == 1


def test_a_frozen_backbone_is_bit_identical_after_training_and_the_head_learns(digits_encoder, tmp_path):
    run_dir, encoder = digits_encoder
    trained = _train("supervised_digits", tmp_path, *_classifier(tmp_path, run_dir, freeze=True),
                     "train.total_steps=200", "optim.l1=1e-4", "optim.weight_decay=1e-2")
    with rlgen.load_run(trained) as run:
        model = run.modules()["classifier"]
        assert _same(_state(model.backbone), encoder)
        assert run.summary["final"]["eval/val_accuracy"] > 0.25  # the head learned on frozen features (chance: 0.1)


def test_an_unfrozen_backbone_trains_at_its_own_learning_rate(digits_encoder, tmp_path):
    run_dir, encoder = digits_encoder
    cfg = rlgen.load_config("supervised_digits", [*QUIET, *_classifier(tmp_path, run_dir, freeze=False, lr=1e-5)])
    exp = rlgen.make_experiment(cfg)
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    exp.train_unit()
    lrs = sorted(g["lr"] for g in exp.opt.param_groups)
    assert lrs == pytest.approx([1e-5, 1e-3])
    assert not _same(_state(exp.model.backbone), encoder)


def test_a_shape_mismatch_names_both_sides(digits_encoder, tmp_path):
    run_dir, _ = digits_encoder
    overrides = _classifier(tmp_path, run_dir, freeze=True)
    overrides[0] = overrides[0].replace("hidden: [64, 32]", "hidden: [48, 32]")
    with pytest.raises(RlgenError) as err:
        _train("supervised_digits", tmp_path, *overrides)
    message = str(err.value)
    assert "model.backbone.init" in message and str(run_dir) in message
    assert "layers.1.weight is (64, 64) there, layers.1.weight is (48, 64) here" in message


def test_an_unknown_role_lists_the_runs_roles(digits_encoder, tmp_path):
    run_dir, _ = digits_encoder
    overrides = _classifier(tmp_path, run_dir, freeze=True)
    overrides[0] = overrides[0].replace("role: encoder", "role: encodr")
    with pytest.raises(RlgenError, match=r"^model\.backbone\.init\.role: run .* has no role 'encodr'; its roles: "
                                         "encoder, decoder"):
        _train("supervised_digits", tmp_path, *overrides)


def test_an_init_run_that_is_no_run_names_the_config_key(digits_encoder, tmp_path):
    run_dir, _ = digits_encoder
    overrides = _classifier(tmp_path, run_dir, freeze=True)
    overrides[0] = overrides[0].replace(str(run_dir), str(tmp_path / "nope"))
    with pytest.raises(RlgenError, match=r"^model\.backbone\.init\.run: \S+nope is not a run directory"):
        _train("supervised_digits", tmp_path, *overrides)


def test_runs_folder_means_its_newest_run(digits_encoder):
    run_dir, _ = digits_encoder
    assert resolve_run(run_dir.parent) == run_dir
    with pytest.raises(RlgenError, match="holds no finished run"):
        resolve_run(run_dir.parent / "nothing-here")
    step = next((run_dir / "checkpoints").glob("step_*"))
    assert resolve_run(step) == step  # a checkpoint directory opens itself, as everywhere else


def test_inspect_lists_roles_with_shapes(digits_encoder, capsys):
    run_dir, _ = digits_encoder
    assert main(["inspect", str(run_dir), "--tensors"]) == 0
    out = capsys.readouterr().out
    assert "encoder" in out and "decoder" in out
    assert "MLP (1, 8, 8) -> 32" in out and "layers.1.weight" in out and "(64, 64)" in out


def test_a_backbone_that_names_no_input_shape_is_described_without_one():
    """A plugin backbone need not keep `in_shape`: `rlgen inspect` crashed on one that did not."""
    net = torch.nn.Linear(2, 3)
    net.out_dim = 3
    assert describe(net) == "Linear, 2 tensors, 9 weights"


@pytest.fixture(scope="module")
def minatar_gan(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan")
    run_dir = _train("gan_minatar_breakout", root, "data.kwargs.n_frames=64", "eval.samples=64",
                     "objective.batch_size=16", "train.total_steps=3", "train.eval_every=3", "perf.steps_per_unit=3")
    with rlgen.load_run(run_dir) as run:
        return run_dir, _state(run.modules()["discriminator"].body)


def test_a_gan_discriminator_becomes_a_frozen_policy_torso(minatar_gan, tmp_path):
    run_dir, trunk_state = minatar_gan
    trained = _train("ppo_minatar_breakout_from_gan", tmp_path, f"agent.policy.backbone.init.run={run_dir}",
                     *MINATAR_PPO)
    with rlgen.load_run(trained) as run:
        policy = run.modules()["policy"]
        assert run.global_step >= 512  # four PPO updates went by
        assert _same(_state(policy.features_extractor.net), trunk_state)


def test_a_fine_tuned_policy_torso_moves_into_a_discriminator(minatar_gan, tmp_path):
    run_dir, trunk_state = minatar_gan
    policy_run = _train("ppo_minatar_breakout_from_gan", tmp_path / "ppo", f"agent.policy.backbone.init.run={run_dir}",
                        "agent.policy.backbone.init.freeze=false", "agent.policy.backbone.init.lr=1e-3", *MINATAR_PPO)
    with rlgen.load_run(policy_run) as run:
        torso = _state(run.modules()["policy"].features_extractor.net)
    assert not _same(torso, trunk_state)  # fine-tuned: it moved
    cfg = rlgen.load_config("gan_minatar_breakout", [*QUIET, "data.kwargs.n_frames=64",
                                                     f"discriminator.backbone.init={{run: '{policy_run}', role: policy}}"])
    exp = rlgen.make_experiment(cfg)
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    exp.setup(RunContext(cfg, tmp_path / "gan", torch.device("cpu"), Logger([]), 0))
    assert _same(_state(exp.D.body), torso)


def test_a_policy_with_a_frozen_init_and_l1_saves_and_resumes(minatar_gan):
    from rlgen.testing import check_experiment

    run_dir, _ = minatar_gan
    report = check_experiment("rl", "ppo_minatar_breakout_from_gan",
                              [f"agent.policy.backbone.init.run={run_dir}", "optim.l1=1e-4", *MINATAR_PPO],
                              exact=False)  # SB3's env state is not checkpointed yet (see rlgen.testing)
    assert "loss/policy" in report.metric_names


def test_freeze_keeps_batch_norm_statistics_and_dropout_fixed_in_train_mode():
    from torch import nn

    from rlgen.nets import MLP
    from rlgen.transfer import freeze

    torch.manual_seed(0)
    net = MLP((4,), hidden=(8,), norm="batch", dropout=0.5)
    outer = nn.Sequential(net, nn.Linear(8, 1))
    freeze(net)
    before = _state(net)
    outer.train()  # what a kind (or SB3's set_training_mode) does before its updates
    x = torch.randn(32, 4)
    assert not net.training and torch.equal(net(x), net(x))  # no dropout: the same output twice
    outer(x).sum().backward()
    assert _same(_state(net), before) and all(p.grad is None for p in net.parameters())
    assert outer[1].weight.grad is not None


def test_actor_and_critic_backbones_both_start_from_the_role(minatar_gan, tmp_path):
    run_dir, trunk_state = minatar_gan
    cfg = rlgen.load_config("ppo_minatar_breakout_from_gan", [*QUIET, f"agent.policy.backbone.init.run={run_dir}",
                                                              "agent.policy.share_backbone=false", *MINATAR_PPO])
    exp = rlgen.make_experiment(cfg)
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    try:
        roles = exp.modules()
        actor, critic = roles["policy"].pi_features_extractor, roles["value"]
        assert actor is not critic
        assert _same(_state(actor.net), trunk_state) and _same(_state(critic.net), trunk_state)
        assert _same(_state(trunk(roles["value"])), trunk_state)
    finally:
        exp.close()


def test_the_newest_run_is_the_one_that_checkpointed_last(tmp_path):
    import os

    folder = tmp_path / "runs" / "x"
    older, newer = folder / "20260101-000000-s0-a", folder / "20260102-000000-s0-b"
    for i, run in enumerate((older, newer)):
        (run / "checkpoints").mkdir(parents=True)
        (run / "config.yaml").write_text("name: x\n")
        (run / "checkpoints" / "latest").write_text("step_1\n")
        (run / "summary.json").write_text('{"status": "completed"}')
        os.utime(run / "checkpoints" / "latest", (1000 + i, 1000 + i))
    (older / "export").mkdir()  # `rlgen export` into the older run: its directory changes, its checkpoints do not
    assert resolve_run(folder) == newer


def test_trust_opens_the_run_an_init_names_too(tmp_path):
    """A source run of your own that names code by import path: --trust (trust=True) reaches it."""
    tiny = ["env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32", "train.total_steps=32",
            "train.eval_every=32", "train.eval_episodes=1", *QUIET]
    source = rlgen.train("ppo_cartpole", [*tiny, f"logging.dir={tmp_path / 'a'}",
                                          "env.wrappers=[{gymnasium.wrappers:ClipReward: {min_reward: -1, max_reward: 1}}]"])
    init = f"agent.policy.backbone.init={{run: {source.run_dir}, role: policy}}"
    with pytest.raises(RlgenError, match="'gymnasium.wrappers:ClipReward' is an import path"):
        rlgen.train("ppo_cartpole", [*tiny, f"logging.dir={tmp_path / 'b'}", init])
    assert rlgen.train("ppo_cartpole", [*tiny, f"logging.dir={tmp_path / 'b'}", init], trust=True).exit_code == 0


def test_a_sequence_decoder_and_a_sequence_generator_trade_weights(tmp_path):
    """An autoencoder's gru decoder and a GAN's gru generator share their trunk, the gru without its
    per-step Linear, both ways. The generator reads noise_dim features a step and the decoder its
    code and the step's one-hot (latent_dim + T): with noise_dim = latent_dim + T they fit."""
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    sine = ["data={source: sine, kwargs: {length: 8}, n_held_out: 32}", "encoder.backbone={type: gru, hidden_size: 8}",
            "encoder.latent_dim=3", "decoder.out_activation=null", "fit.batch_size=8"]
    ae = _train("autoencoder_digits", tmp_path / "ae", *sine, "decoder.backbone={type: gru, hidden_size: 8}",
                "train.total_steps=4", "train.eval_every=4", "fit.steps_per_unit=2")
    with rlgen.load_run(ae) as run:
        decoder = _state(trunk(run.modules()["decoder"]))
    assert sorted(decoder) == ["rnn.bias_hh_l0", "rnn.bias_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l0"]

    gan_overrides = ["data.kwargs.length=8", "generator.noise_dim=11", "objective.batch_size=8", "eval.samples=16",
                     "discriminator.backbone={type: gru, hidden_size: 8}", "perf.steps_per_unit=2"]
    cfg = rlgen.load_config("gan_sine_lstm", [*QUIET, *gan_overrides, "generator.backbone={type: gru, hidden_size: 8, "
                                              f"init: {{run: '{ae}', role: decoder}}}}"])
    exp = rlgen.make_experiment(cfg)
    exp.setup(RunContext(cfg, tmp_path / "g", torch.device("cpu"), Logger([]), 0))
    assert _same(_state(exp.G.body), decoder)

    gan = _train("gan_sine_lstm", tmp_path / "gan", *gan_overrides, "generator.backbone={type: gru, hidden_size: 8}",
                 "train.total_steps=2", "train.eval_every=2")
    with rlgen.load_run(gan) as run:
        generator = _state(trunk(run.modules()["generator"]))
    cfg = rlgen.load_config("autoencoder_digits", [*QUIET, *sine, "decoder.backbone={type: gru, hidden_size: 8, "
                                                   f"init: {{run: '{gan}', role: generator, freeze: true}}}}"])
    exp = rlgen.make_experiment(cfg)
    exp.setup(RunContext(cfg, tmp_path / "d", torch.device("cpu"), Logger([]), 0))
    assert _same(_state(exp.model.decoder.body), generator)
    assert exp.model.decoder.out.weight.requires_grad  # frozen trunk, its per-step Linear trains


def test_loading_a_source_run_leaves_the_global_rngs_and_threads_of_the_run_being_set_up(digits_encoder):
    """Opening the source run sets it up (seeding the global RNGs with its seed, setting its torch
    threads); a run whose backbone starts from it keeps its own stream, so its seeds stay its own."""
    import random

    import numpy as np

    from rlgen.config import InitConfig
    from rlgen.transfer import load_trunk

    torch.manual_seed(1234), np.random.seed(1234), random.seed(1234)
    threads = torch.get_num_threads()
    torch.set_num_threads(2 if threads != 2 else 1)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate(), torch.get_num_threads())
    try:
        load_trunk(InitConfig(run=str(digits_encoder[0]), role="encoder"))
        after = (torch.get_rng_state(), np.random.get_state()[1], random.getstate(), torch.get_num_threads())
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_an_encoder_of_raw_observations_into_a_normalizing_policy_is_warned_of(tmp_path, capsys):
    """The `observations` source is raw; env.normalize.obs feeds the policy standardised inputs."""
    quiet = ["logging.wandb.mode=disabled", "train.progress=false", f"logging.dir={tmp_path}"]
    encoder = rlgen.train("autoencoder_digits", [
        *quiet, "data.source=observations", "data.kwargs={env_id: CartPole-v1, n_frames: 256}",
        "encoder.backbone={type: mlp, hidden: [64, 64]}", "decoder.backbone={type: mlp, hidden: [16]}",
        "decoder.out_activation=null", "fit.steps_per_unit=5", "train.total_steps=5", "train.eval_every=5",
        "eval.pictures=false"]).run_dir
    init = f"agent.policy.backbone.init={{run: '{encoder}', role: encoder}}"
    tiny = [*quiet, init, "train.total_steps=512", "train.eval_every=512", "train.eval_episodes=1"]
    capsys.readouterr()
    rlgen.train("ppo_cartpole", tiny)  # normalize.obs: true
    said = " ".join(capsys.readouterr().err.split())
    assert "was pretrained on raw `observations`, but env.normalize.obs feeds this policy" in said
    rlgen.train("ppo_cartpole", [*tiny, "env.normalize=null"])
    assert "pretrained on raw" not in capsys.readouterr().err


def test_weights_that_fit_but_were_trained_with_another_activation_are_warned_of(tmp_path):
    """A tanh MLP's weights loaded into a relu MLP fit by shape and compute another function; the
    shapes were all that was checked."""
    quiet = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false", f"logging.dir={tmp_path}",
             "train.eval_episodes=1"]
    source = rlgen.train("ppo_cartpole", [*quiet, "train.total_steps=256", "train.eval_every=256"]).run_dir  # tanh
    init = f"init: {{run: '{source}', role: value}}"
    with pytest.warns(rlgen.errors.RlgenWarning, match=r"agent\.policy\.backbone\.init: the value of .* computes with "
                                                       r"Tanh where agent\.policy\.backbone has ReLU"):
        rlgen.train("ppo_cartpole", [*quiet, "train.total_steps=128", "train.eval_every=128",
                                     f"agent.policy.backbone={{type: mlp, hidden: [64, 64], activation: relu, {init}}}"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", rlgen.errors.RlgenWarning)  # the same activation, another dropout: no word
        rlgen.train("ppo_cartpole", [*quiet, "train.total_steps=128", "train.eval_every=128",
                                     f"agent.policy.backbone={{type: mlp, hidden: [64, 64], activation: tanh, "
                                     f"dropout: 0.1, {init}}}"])

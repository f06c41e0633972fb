"""A backbone type given as an import path: validated at load, used by RL policies and GAN players."""

from __future__ import annotations

import pytest

import rlgen
from rlgen.errors import ConfigError
from tests.nets.custom import TinyEncoder

TINY = "tests.nets.custom:TinyEncoder"


def test_rl_policy_on_a_users_backbone(tmp_path, quiet):
    run = rlgen.train("ppo_cartpole", [f"agent.policy.backbone={{type: '{TINY}', width: 6}}", "train.total_steps=512",
                                       "train.eval_every=512", "train.eval_episodes=2", f"logging.dir={tmp_path}", *quiet])
    assert run.summary["status"] == "completed"
    with rlgen.load_run(run.run_dir, trust=True) as loaded:  # a backbone by import path
        extractor = loaded.modules()["policy"].features_extractor
        assert isinstance(extractor.net, TinyEncoder) and extractor.features_dim == 6


def test_gan_players_on_a_users_backbone(tmp_path, quiet):
    run = rlgen.train("gan_ring8", [f"generator.backbone={{type: '{TINY}', width: 16}}",
                                    f"discriminator.backbone={{type: '{TINY}'}}", "train.total_steps=20",
                                    "perf.steps_per_unit=10", "eval.samples=100", f"logging.dir={tmp_path}", *quiet])
    assert run.summary["status"] == "completed"
    with rlgen.load_run(run.run_dir, trust=True) as loaded:  # a backbone by import path
        assert isinstance(loaded.modules()["generator"].body, TinyEncoder)


def test_a_users_backbone_is_checked_when_the_config_loads():
    with pytest.raises(ConfigError) as e:
        rlgen.load_config("ppo_cartpole", [f"agent.policy.backbone={{type: '{TINY}', width: 0}}", "optim.lr=-1"])
    text = str(e.value)
    assert "agent.policy.backbone: width: Input should be greater than 0" in text and "optim.lr" in text
    with pytest.raises(ConfigError, match=r"agent.policy.backbone.type: cannot import 'tests.nets.nope'"):
        rlgen.load_config("ppo_cartpole", ["agent.policy.backbone={type: 'tests.nets.nope:X'}"])


def test_a_backbone_whose_constructor_refuses_its_keys_is_one_line_and_no_run(tmp_path, quiet, capsys):
    from rlgen.cli import main

    refusing = "tests.nets.custom:Refusing"
    args = [f"discriminator.backbone={{type: '{refusing}', width: 0}}", f"logging.dir={tmp_path}", *quiet]
    assert main(["train", "gan_ring8", *args]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == (f"error: discriminator.backbone: backbone {refusing!r} cannot be built with {{'width': 0}}: "
                   "ValueError: width must be >= 1 (got 0); check its keys")
    assert not list(tmp_path.iterdir())


def test_a_sequence_backbone_that_cannot_keep_every_step_says_what_is_needed(tmp_path, quiet):
    """A GAN's sequence generator and a sequence decoder build their backbone with pool='sequence':
    a class without `pool` is told so, not "unknown key 'pool'" (a key the config never had)."""
    from rlgen.errors import RlgenError
    from rlgen.nets import build_decoder

    seq = "tests.nets.custom:StepMean"
    with pytest.raises(RlgenError) as e:
        rlgen.train("gan_sine_lstm", [f"generator.backbone={{type: '{seq}'}}", "train.total_steps=2",
                                      f"logging.dir={tmp_path}", *quiet])
    message = str(e.value)
    assert message.startswith("generator.backbone: a sequence backbone here must give one output per step")
    assert f"{seq!r} takes no `pool` argument" in message and "unknown" not in message
    with pytest.raises(RlgenError, match=f"sequence decoder '{seq}': a sequence backbone here must give one output"):
        build_decoder({"type": seq}, in_dim=3, out_shape=(5, 2))


def test_true_or_false_is_no_number_in_a_users_backbone_either():
    """As in every section: its config_model's fields (and, without one, the builder's annotated
    arguments) take no true/false where they declare a number."""
    with pytest.raises(ConfigError, match=r"agent.policy.backbone: width: expected a number, got True"):
        rlgen.load_config("ppo_cartpole", [f"agent.policy.backbone={{type: '{TINY}', width: true}}"])
    with pytest.raises(ConfigError, match=r"agent.policy.backbone: width: expected a number, got True"):
        rlgen.load_config("ppo_lstm_cartpole_novel", ["agent.policy.backbone={type: 'tests.nets.custom:StepMean', "
                                                      "width: true}"])

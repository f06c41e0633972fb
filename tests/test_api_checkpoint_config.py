"""A run opens (`rlgen.load_run`, eval, export) only with a config.yaml that built its checkpoint,
as `--resume` does: the state loaded into anything else is another agent, or a state_dict error."""

from __future__ import annotations

import shutil

import pytest
import yaml

import rlgen
from rlgen.cli import main
from rlgen.errors import RlgenError

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false",
         "train.total_steps=512", "train.eval_every=512", "train.eval_episodes=2"]


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    """A tiny ppo_cartpole run (observations normalized, as the bundled config does)."""
    root = tmp_path_factory.mktemp("cartpole")
    return rlgen.train("ppo_cartpole", [*QUIET, f"logging.dir={root}"]).run_dir


def _edited(run_dir, to, edit):
    shutil.copytree(run_dir, to)
    config = yaml.safe_load((to / "config.yaml").read_text())
    edit(config)
    (to / "config.yaml").write_text(yaml.safe_dump(config))
    return to


def test_a_config_yaml_edited_since_its_checkpoint_is_refused_naming_the_key(cartpole, tmp_path, capsys):
    edited = _edited(cartpole, tmp_path / "edited", lambda c: c["env"]["normalize"].update(obs=False))
    with rlgen.load_run(edited) as run, pytest.raises(RlgenError, match=r"env.normalize.obs: true there, false in "
                                                                         r"config.yaml\); put the checkpoint's values"):
        run.evaluate(episodes=2)  # was: a score of an agent without its normalization
    out = tmp_path / "onnx"
    for command in (["eval", str(edited), "--episodes", "2"],
                    ["export", str(edited), "--format", "onnx", "-o", str(out)]):
        assert main(command) == 2, command  # export was an AttributeError traceback (no obs_rms)
        err = capsys.readouterr().err
        assert "env.normalize.obs" in err and "Traceback" not in err, err
    assert not out.exists()


def test_what_a_resume_may_change_may_differ(cartpole, tmp_path):
    def edit(config):
        config["train"]["eval_episodes"], config["env"]["vectorize"] = 3, "subproc"

    with rlgen.load_run(_edited(cartpole, tmp_path / "edited", edit)) as run:
        assert run.evaluate()["eval/return_mean"] > 0


def test_a_checkpoint_of_another_run_names_what_differs(cartpole, tmp_path):
    """It said only "does not fit this run's config (RuntimeError: Error(s) in loading state_dict ...)"."""
    pendulum = rlgen.train("ppo_cartpole", [*QUIET, f"logging.dir={tmp_path}", "env.id=Pendulum-v1"]).run_dir
    mixed = shutil.copytree(cartpole, tmp_path / "mixed")
    shutil.rmtree(mixed / "checkpoints")
    shutil.copytree(pendulum / "checkpoints", mixed / "checkpoints")
    with rlgen.load_run(mixed) as run, pytest.raises(RlgenError, match="env.id: Pendulum-v1 there, CartPole-v1 in "
                                                                        "config.yaml"):
        run.agent()

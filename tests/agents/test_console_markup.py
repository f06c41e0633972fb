"""The agents' warnings show demo paths, recorded env ids, run paths and what could not be restored
as given: the shared console reads markup, so `[b]` vanished and `[/x]` (a closing tag with nothing
open) raised rich's MarkupError in place of the warning."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rlgen.agents.imitation.config import DemosConfig
from rlgen.agents.imitation.data import DemoSource, load_demos
from rlgen.agents.rl.sb3_bridge import _warn_raw_observations
from rlgen.agents.rl.sb3_state import warn_not_exact
from rlgen.config import EnvConfig
from rlgen.envs import make_env_fn
from rlgen.envs.demos import write_demos
from rlgen.envs.recording import record_episodes
from tests.agents.imitation.test_bc import Still  # Pendulum's torque 0

ODD = "u[/x]v[b]w"


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(capsys.readouterr().err.split())  # lines joined: a terminal may fold a long one


def test_demo_warnings_show_the_path_and_the_recorded_env_as_given(tmp_path, capsys):
    demos = record_episodes(Still(), make_env_fn("Pendulum-v1", {"g": 9.0}), episodes=1)
    (tmp_path / ODD).mkdir(parents=True)
    path = write_demos(demos, tmp_path / ODD / "pendulum.npz", env_id=f"Pendulum{ODD}-v1")
    cfg, env_cfg = DemosConfig(path=str(path)), EnvConfig(id="Pendulum-v1")
    made = make_env_fn("Pendulum-v1")()
    made.close()  # only its spaces are needed
    source = DemoSource(cfg, env_cfg, made.observation_space, made.action_space)
    said = _said(capsys)
    assert f"demos {path} were recorded on Pendulum{ODD}-v1, training on Pendulum-v1" in said
    assert f"demos {path}: an expert return of" in said  # no random return, and a negative expert's
    source.check_resumed("another digest")
    assert f"demos {path} differ from the demos this run was trained on" in _said(capsys)
    write_demos(demos, tmp_path / ODD / "as_recorded.npz", env_id="Pendulum-v1")
    load_demos(DemosConfig(path=str(tmp_path / ODD / "as_recorded.npz")), env_cfg, made.observation_space,
               made.action_space)
    assert f"demos {tmp_path / ODD / 'as_recorded.npz'} were recorded on Pendulum-v1 with kwargs" in _said(capsys)


def test_an_inexact_resume_names_what_could_not_be_restored_as_given(capsys):
    warn_not_exact("the evaluation envs", [f"venv.{ODD}: saved a dict, found a list"])
    assert f"the evaluation envs cannot be restored (venv.{ODD}: saved a dict, found a list)" in _said(capsys)


def test_a_raw_observations_backbone_names_its_run_as_given(capsys):
    venv = VecNormalize(DummyVecEnv([make_env_fn("CartPole-v1")]))
    model = SimpleNamespace(get_env=lambda: venv)
    source = SimpleNamespace(data=SimpleNamespace(source="observations"))
    _warn_raw_observations(model, source, SimpleNamespace(run=f"runs/{ODD}"), "agent.policy.backbone")
    assert f"agent.policy.backbone.init: runs/{ODD} was pretrained on raw `observations`" in _said(capsys)

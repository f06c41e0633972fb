"""A finished BC or imitation run opened outside training (`rlgen eval`, `rlgen.load_run`, export,
record) scores eval/expert_ratio with the returns its checkpoint kept, whatever lies at demos.path
now, and warns of nothing in its demos: those warnings are for a run that trains on them."""

import numpy as np
import pytest

import rlgen
from rlgen.agents.imitation.config import DemosConfig
from rlgen.agents.imitation.data import DemoSource
from rlgen.config import EnvConfig
from rlgen.envs import make_env_fn
from rlgen.envs.demos import expert_ratio, read_demos, write_demos
from rlgen.envs.recording import record_episodes
from tests.agents.imitation.test_bc import Identity, Still, bc_config
from tests.agents.imitation.test_imitation import gail_config


@pytest.fixture
def identity_demos(tmp_path):
    demos = record_episodes(Identity(), make_env_fn("rlgen/Identity-v0"), episodes=4, seed=0)
    return write_demos(demos.with_metadata(random_return=5.0), tmp_path / "demos.npz", env_id="rlgen/Identity-v0")


def _tiny(kind, tmp_path, demos):
    if kind == "bc":
        return bc_config(tmp_path, "rlgen/Identity-v0", demos, total=20, train={"eval_episodes": 1})
    return gail_config(tmp_path, demos, total=256, env={"id": "rlgen/Identity-v0", "n_envs": 2},
                       imitation={"algo": "gail", "disc_steps": 1, "batch_size": 16},
                       agent={"algo": "ppo", "policy": {"backbone": {"type": "mlp", "hidden": [8]}},
                              "hyperparams": {"n_steps": 64, "batch_size": 64, "n_epochs": 1}},
                       train={"total_steps": 256, "eval_every": 256, "eval_episodes": 1, "progress": False})


@pytest.mark.parametrize("kind", ["bc", "imitation"])
def test_an_opened_run_scores_with_its_checkpoints_returns_not_the_demos_now_at_its_path(tmp_path, identity_demos,
                                                                                         kind, capsys):
    run = rlgen.train(_tiny(kind, tmp_path, identity_demos))
    trained_on = read_demos(identity_demos).references  # expert 20, random 5
    other = read_demos(identity_demos).first(2).with_metadata(expert_return=40.0, random_return=-10.0)
    identity_demos.unlink()
    write_demos(other, identity_demos, env_id="rlgen/Identity-v0")  # other demos where the run's were
    capsys.readouterr()
    with rlgen.load_run(run.run_dir) as opened:
        out = opened.evaluate(episodes=1)
    assert out["eval/expert_ratio"] == pytest.approx(expert_ratio(out["eval/return_mean"], **trained_on))
    assert "warning" not in capsys.readouterr().err  # nothing trains: no "training goes on with the new ones"


def test_an_opened_run_warns_of_nothing_its_training_was_warned_of(tmp_path, capsys):
    # recorded with g=9.0 and a negative expert return without a random one: two warnings when training
    demos = record_episodes(Still(), make_env_fn("Pendulum-v1", {"g": 9.0}), episodes=1)
    path = write_demos(demos, tmp_path / "pendulum.npz", env_id="Pendulum-v1")
    run = rlgen.train(bc_config(tmp_path, "Pendulum-v1", path, loss="mse", total=10, train={"eval_episodes": 1}))
    assert capsys.readouterr().err.count("warning") == 2
    with rlgen.load_run(run.run_dir) as opened:
        opened.experiment  # noqa: B018 - set up as rlgen inspect, export and record set it up
    assert "warning" not in capsys.readouterr().err


def _source(cfg: DemosConfig, training: bool) -> DemoSource:
    made = make_env_fn("rlgen/Identity-v0")()
    made.close()  # only its spaces are needed
    return DemoSource(cfg, EnvConfig(id="rlgen/Identity-v0"), made.observation_space, made.action_space,
                      training=training)


def test_the_checkpoints_returns_yield_to_the_configs_outside_training_and_to_the_demos_on_a_resume(identity_demos):
    saved = {"references": {"expert_return": 30.0, "random_return": 0.0}, "demos_sha256": None}
    opened = _source(DemosConfig(path=str(identity_demos), random_return=10.0), training=False)
    opened.restore(saved)
    assert opened.references == {"expert_return": 30.0, "random_return": 10.0}  # demos.random_return set
    resumed = _source(DemosConfig(path=str(identity_demos)), training=True)
    resumed.restore(saved)
    assert resumed.references == {"expert_return": 20.0, "random_return": 5.0}  # it trains on these demos
    missing = _source(DemosConfig(path=str(identity_demos.with_name("gone.npz"))), training=False)
    missing.restore(saved)
    assert missing.references == saved["references"] and np.isfinite(missing.score(15.0))

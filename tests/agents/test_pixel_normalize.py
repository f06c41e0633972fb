"""env.normalize.obs on image observations: SB3's VecNormalize turns a uint8 image Box into a float
Box that is no longer an image space, so SB3 would neither scale it to [0, 1] nor move its channels
first and a CNN would read rows as channels. It is refused in one line before a run directory stays."""

import pytest

from rlgen.agents.rl.experiment import RLExperiment
from rlgen.errors import RlgenError
from rlgen.runner import Runner
from tests.agents.rl_helpers import rl_config
from tests.envs import demo_envs  # noqa: F401 - registers rlgen_test/TinyImage-v0: (8, 7, 3) uint8 frames

CNN = {"type": "cnn", "channels": [4], "kernels": [3], "strides": [1], "hidden": 8}
PPO = {"n_steps": 8, "batch_size": 16, "n_epochs": 1}


def image_config(tmp_path, **env):
    return rl_config(tmp_path, "ppo", "rlgen_test/TinyImage-v0", n_envs=2, total=16, hyperparams=PPO,
                     env={"id": "rlgen_test/TinyImage-v0", "n_envs": 2, **env},
                     agent={"algo": "ppo", "policy": {"backbone": CNN}, "hyperparams": PPO})


@pytest.mark.parametrize("frame_stack", [0, 2])
def test_normalizing_image_observations_is_refused_and_leaves_no_run(tmp_path, frame_stack):
    cfg = image_config(tmp_path / "runs", normalize={"obs": True}, frame_stack=frame_stack)
    with pytest.raises(RlgenError, match=r"env\.normalize\.obs: .*the policy already scales images to \[0, 1\]; "
                                         r"set env\.normalize\.obs: false"):
        Runner(cfg, RLExperiment(cfg)).run()
    assert not list((tmp_path / "runs").rglob("config.yaml"))  # no run directory stays behind


def test_image_observations_with_normalized_rewards_reach_the_cnn_channels_first(tmp_path):
    cfg = image_config(tmp_path, normalize={"obs": False, "reward": True})
    exp = RLExperiment(cfg)
    Runner(cfg, exp).run()
    assert exp.model.policy.features_extractor.in_shape == (3, 8, 7)  # SB3 moved the channels first


def test_a_run_trained_so_before_the_refusal_still_opens(tmp_path, monkeypatch):
    """The refusal is for new runs: a run an older rlgen trained with normalized images still loads
    to act, evaluate or export, and resumes as it was trained."""
    import rlgen
    import rlgen.agents.rl.experiment as rl_experiment

    cfg = image_config(tmp_path / "runs", normalize={"obs": True})
    with monkeypatch.context() as m:
        m.setattr(rl_experiment, "new_run_env_problem", lambda cfg, env, ctx: None)  # the older rlgen checked none
        runner = Runner(cfg, RLExperiment(cfg))
        assert runner.run()["status"] == "completed"
    with rlgen.load_run(runner.run_dir) as run:
        assert run.evaluate(episodes=1)["eval/return_mean"] is not None
    resumed = rlgen.train(resume=runner.run_dir, overrides=["train.total_steps=32"])
    assert resumed.summary["status"] == "completed" and resumed.summary["global_step"] == 32

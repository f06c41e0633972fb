"""An RL run's offline W&B log, read back: its name shows the override, the video of an evaluation
episode is there every k evaluations, and SB3's resolved defaults are in the config."""

from rlgen.cli import main
from tests.wandb_log import merged, wandb_records


def test_rl_run_in_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    overrides = ["optim.lr=3e-4", "seed=1", f"logging.dir={tmp_path}", "logging.wandb.mode=offline",
                 "train.total_steps=1536", "train.eval_every=512", "train.eval_episodes=2", "train.video_every=2",
                 "train.progress=false", "logging.console=false"]
    assert main(["train", "ppo_cartpole", *overrides]) == 0
    (run_dir,) = (tmp_path / "ppo_cartpole").iterdir()
    records = wandb_records(run_dir)
    (run,) = [r["run"] for r in records if r["type"] == "run"]
    assert run["display_name"] == "ppo_cartpole total_steps=1536 eval_every=512 eval_episodes=2 lr=3e-4 s1"
    assert run["run_group"] == "ppo_cartpole total_steps=1536 eval_every=512 eval_episodes=2 lr=3e-4"
    assert {"lr=3e-4", "rl", "ppo", "CartPole-v1", "mlp"} <= set(run["tags"]) and run["job_type"] == "rl"
    history = [r["history"]["item"] for r in records if r["type"] == "history"]
    videos = [h for h in history if "eval/video._type" in h]
    assert [h["global_step"] for h in videos] == [1024]  # the 2nd of 3 evaluations
    assert videos[0]["eval/video._type"] == "video-file"
    (wandb_run,) = run_dir.glob("wandb/offline-run-*")
    assert (wandb_run / "files" / videos[0]["eval/video.path"]).stat().st_size > 1000
    assert (run_dir / "media" / "videos" / "step_1024" / "eval-episode-0.mp4").is_file()
    sb3 = merged(records, "config")["sb3"]
    assert sb3["algo"] == "PPO" and sb3["policy"] == "ActorCriticPolicy"
    assert sb3["hyperparams"]["vf_coef"] == 0.5 and sb3["hyperparams"]["max_grad_norm"] == 0.5  # SB3's defaults
    assert sb3["hyperparams"]["clip_range"] == "lin_0.2" and sb3["hyperparams"]["n_steps"] == 32  # as configured
    assert sb3["policy_kwargs"]["features_extractor_class"] == "BackboneExtractor"

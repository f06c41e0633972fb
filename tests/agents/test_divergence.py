"""PPO at an absurd learning rate: its value loss dwarfs every return, and the run says so once."""

import rlgen
import rlgen.logging as rlog


def test_ppo_at_lr_1e6_warns_once_that_its_value_loss_diverges(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(rlog.console, "print", lambda msg="", *a, **k: said.append(str(msg)))
    overrides = ["optim.lr=1e6", "env.n_envs=4", "train.total_steps=1024", "train.early_stop.target=null",
                 "train.eval_episodes=2", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                 "train.progress=false", "logging.console=false"]
    assert rlgen.train("ppo_cartpole", overrides).summary["status"] == "completed"
    warned = [w for w in said if "loss/value reached" in w]
    assert len(warned) == 1 and "training is probably diverging" in warned[0], said
    said.clear()
    rlgen.train("ppo_cartpole", [*overrides[1:], f"logging.dir={tmp_path / 'sane'}"])  # the config's own lr
    assert not [w for w in said if "loss/value reached" in w]

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


def test_a_policy_whose_weights_turned_non_finite_stops_with_one_line_not_a_torch_error(tmp_path):
    import pytest
    import torch

    from rlgen.errors import RlgenError
    from rlgen.runner import Runner

    cfg = rlgen.load_config("ppo_cartpole", ["train.total_steps=2048", "train.eval_every=100000", f"logging.dir={tmp_path}",
                                             "logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"])
    exp = rlgen.make_experiment(cfg)
    train_unit, units = exp.train_unit, []

    def poisoned_unit():  # weights gone NaN between two units: the next rollout samples from NaN logits
        units.append(1)
        if len(units) == 2:
            with torch.no_grad():
                next(exp.model.policy.parameters()).fill_(float("nan"))
        return train_unit()

    exp.train_unit = poisoned_unit
    validate = torch.distributions.Distribution._validate_args
    with pytest.raises(RlgenError, match=r"non-finite weights in the policy: \S+ \([\d,]+ of [\d,]+ elements\) at step 512: "
                                         r"training diverged\. "
                                         r"No checkpoint was written before it: lower optim\.lr"):
        Runner(cfg, exp).run()
    assert torch.distributions.Distribution._validate_args == validate  # the checks are back on after training

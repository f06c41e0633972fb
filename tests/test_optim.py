"""rlgen/optim.py: L1 as a gradient term, per-group learning rates, frozen parameters left out."""

import pytest
import torch
from torch import nn

from rlgen.config import OptimConfig
from rlgen.optim import LR_ATTR, add_l1_grad, param_groups, prepare, trained_lr


def _net_with_grads(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    net(torch.randn(16, 4)).square().mean().backward()
    return net


def test_l1_adds_exactly_lambda_times_sign_of_w_to_the_gradient():
    net = _net_with_grads()
    before = {n: (p.grad.clone(), p.detach().clone()) for n, p in net.named_parameters()}
    opt = OptimConfig(type="sgd", lr=0.1, l1=0.003).build(net.parameters())
    opt.step()  # the hook runs first: the gradient the step used is left in .grad
    for name, p in net.named_parameters():
        grad, w = before[name]
        assert torch.equal(p.grad, grad + 0.003 * torch.sign(w)), name
        assert torch.allclose(p.detach(), w - 0.1 * (grad + 0.003 * torch.sign(w)), atol=1e-7), name


def test_without_l1_the_gradient_is_untouched():
    net = _net_with_grads()
    grads = [p.grad.clone() for p in net.parameters()]
    OptimConfig(type="adam", lr=1e-3).build(net.parameters()).step()
    assert all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), grads))


def test_l1_skips_parameters_without_a_gradient():
    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    add_l1_grad([w], 0.5)
    assert w.grad is None


def test_frozen_parameters_are_left_out_and_own_lrs_get_their_group():
    net = _net_with_grads()
    net[0].weight.requires_grad_(False)
    setattr(net[2].weight, LR_ATTR, 1e-4)
    groups = param_groups(net.parameters(), lr=1e-3)
    assert [len(g["params"]) for g in groups] == [2, 1]
    assert groups[1]["lr"] == 1e-4 and groups[1]["lr_ratio"] == pytest.approx(0.1)


def test_a_groups_ratio_survives_a_schedule_setting_every_lr():
    net = _net_with_grads()
    setattr(net[2].weight, LR_ATTR, 1e-4)
    opt = OptimConfig(type="sgd", lr=1e-3).build(net.parameters())
    opt.step()
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-4]
    for g in opt.param_groups:  # what a kind's schedule (or SB3's update_learning_rate) does
        g["lr"] = 5e-4
    opt.step()
    opt.step()  # scaled once, not at every step
    assert opt.param_groups[0]["lr"] == 5e-4 and opt.param_groups[1]["lr"] == pytest.approx(5e-5)


@pytest.mark.parametrize("own", [[0, 2], [2]], ids=["all at their own lr", "the rest at the optimizer's"])
def test_the_logged_lr_is_that_of_the_first_group_holding_weights(own):
    """The main group comes first, empty when every parameter has its own lr: its lr is no weight's."""
    net = _net_with_grads()
    for i in own:
        for p in net[i].parameters():
            setattr(p, LR_ATTR, 1e-4)
    opt = OptimConfig(type="sgd", lr=1e-3).build(net.parameters())
    opt.step()
    assert trained_lr(opt) == (1e-4 if own == [0, 2] else 1e-3)


def test_a_schedule_value_equal_to_the_last_scaled_lr_is_still_scaled():
    """A linear schedule over 4 units at ratio 0.5: the last unit's lr, 2.5e-4, is the value the
    group ran at in the unit before; it is a new lr all the same."""
    net = _net_with_grads()
    setattr(net[2].weight, LR_ATTR, 5e-4)
    opt = OptimConfig(type="sgd", lr=1e-3).build(net.parameters())
    ran = []
    for lr in (1e-3, 7.5e-4, 5e-4, 2.5e-4):
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        ran.append(opt.param_groups[1]["lr"])
    assert ran == pytest.approx([5e-4, 3.75e-4, 2.5e-4, 1.25e-4])


def test_every_parameter_with_its_own_lr_still_has_a_main_group_to_scale_from():
    net = _net_with_grads()
    for p in net.parameters():
        setattr(p, LR_ATTR, 1e-4)
    opt = OptimConfig(type="adam", lr=1e-3).build(net.parameters())
    assert [len(g["params"]) for g in opt.param_groups] == [0, 4]
    for g in opt.param_groups:
        g["lr"] = 2e-3
    opt.step()
    assert opt.param_groups[1]["lr"] == pytest.approx(2e-4)


def test_prepare_without_l1_or_groups_adds_no_hook():
    net = _net_with_grads()
    opt = prepare(torch.optim.SGD(net.parameters(), lr=0.1))
    assert not opt._optimizer_step_pre_hooks


def test_sb3_optimizers_get_the_same_l1_term():
    """SB3 builds and steps its own optimizers: rlgen rebuilds them with the hook, so the gradient
    SB3's step uses is the loss's plus l1 * sign(w) too (here PPO's, and both of SAC's)."""
    import rlgen
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    for config, extra in (("ppo_cartpole", []), ("sac_pendulum", ["agent.hyperparams.buffer_size=1000"])):
        cfg = rlgen.load_config(config, ["optim.l1=0.01", "logging.wandb.mode=disabled", *extra])
        exp = rlgen.make_experiment(cfg)
        exp.setup(RunContext(cfg, None, torch.device("cpu"), Logger([]), 0))
        policy = exp.model.policy
        optimizers = [m.optimizer for m in policy.modules() if isinstance(getattr(m, "optimizer", None), torch.optim.Optimizer)]
        assert len(optimizers) == (1 if config == "ppo_cartpole" else 2)
        for opt in optimizers:
            params = [p for g in opt.param_groups for p in g["params"]]
            sum(p.square().sum() for p in params).backward()
            before = [(p.grad.clone(), p.detach().clone()) for p in params]
            opt.step()
            for p, (grad, w) in zip(params, before):
                assert torch.equal(p.grad, grad + 0.01 * torch.sign(w))
            opt.zero_grad()
        exp.close()


@pytest.mark.parametrize("kind", ["adam", "adamw", "sgd", "adagrad"])
def test_fused_builds_torch_s_fused_step_and_takes_the_same_step(kind):
    nets = [_net_with_grads(), _net_with_grads()]
    loop, fused = (OptimConfig(type=kind, lr=0.01, fused=f).build(n.parameters()) for n, f in zip(nets, (False, True)))
    assert fused.defaults["fused"] is True and not loop.defaults.get("fused")
    loop.step(), fused.step()
    for a, b in zip(*(n.parameters() for n in nets)):
        assert torch.allclose(a, b, atol=1e-6)


def test_fused_rmsprop_is_refused_when_the_config_loads():
    with pytest.raises(ValueError, match="RMSprop has no fused step"):
        OptimConfig(type="rmsprop", fused=True)


@pytest.mark.parametrize("betas, says", [([0.9, 1.5], "optim.betas.1: Input should be less than 1 (got 1.5)"),
                                         ([-0.1, 0.999], "optim.betas.0: Input should be greater than or equal to 0 "
                                                         "(got -0.1)")])
def test_betas_outside_torch_s_range_are_refused_when_the_config_loads(betas, says):
    """It was torch's "Invalid beta parameter at index 1: 1.5" as the optimizer was built, naming no key."""
    from rlgen.api import load_config
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config("ppo_cartpole", [f"optim.betas={betas}"])
    assert info.value.problems == [says]
    assert load_config("ppo_cartpole", ["optim.betas=[0, 0.999]"]).optim.betas == (0, 0.999)

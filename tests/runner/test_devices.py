"""Device and process-group choices that only matter on a GPU, checked on the CPU: what `device:
auto` picks for each kind, the collective backend, torchrun with one process, CUDA RNG state in
checkpoints, SB3's CPU advice. Where torch.cuda must look present, its functions are replaced."""

import socket
import types
import warnings

import pytest
import torch
import torch.distributed as dist
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy

import rlgen
from rlgen import process
from rlgen import runner as runner_mod
from rlgen.agents.rl.sb3_bridge import gpu_by_choice
from rlgen.errors import RlgenError
from rlgen.distributed import dist_backend, init_distributed
from rlgen.experiment import prefers_accelerator
from rlgen.process import choose_device


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.mark.parametrize("config, overrides, wants", [
    ("ppo_cartpole", [], False),                          # small MLP agent: the CPU
    ("ppo_lstm_cartpole_novel", [], False),               # a step-by-step recurrence: the CPU
    ("ppo_cnn_pong", [], True),
    ("ppo_transformer_cartpole_novel", [], True),
    ("gan_ring8", [], False),
    ("gan_digits_dcgan", [], True),
    ("gan_sine_transformer", [], True),
    ("gan_sine_lstm", [], False),
    ("selfplay_tictactoe", [], False),
    ("selfplay_connect_four", [], True),                  # a conv net on the board
    ("selfplay_connect_four", ["agent.policy.backbone={type: mlp, hidden: [64]}"], False),
    ("teams_simple_tag", [], False),
])
def test_auto_picks_cuda_for_convolutions_and_transformers_only(fake_cuda, config, overrides, wants):
    exp = rlgen.make_experiment(rlgen.load_config(config, overrides))
    assert prefers_accelerator(exp) is wants
    assert choose_device("auto", prefers_accelerator(exp)) == torch.device("cuda" if wants else "cpu")


def test_auto_without_a_gpu_is_the_cpu_and_an_explicit_cuda_fails():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert choose_device("auto", True) == torch.device("cpu")
    with pytest.raises(RlgenError, match="sees no CUDA GPU"):
        choose_device("cuda", True)


def test_mps_without_one_is_one_line_before_any_run_directory(tmp_path, capsys):
    """It was a traceback from the first module moved there, leaving a failed run directory."""
    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    from rlgen.cli import main

    assert main(["train", "gan_ring8", "--run-dir", str(tmp_path / "run"), "device=mps",
                 "logging.wandb.mode=disabled"]) == 2
    assert "device 'mps' asked for, but torch sees no MPS device" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_each_torchrun_process_takes_the_gpu_of_its_local_rank(fake_cuda, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert choose_device("auto", True) == torch.device("cuda:1")
    assert choose_device("cuda:0", True) == torch.device("cuda:0")  # an explicit index is kept


def test_the_backend_follows_the_run_device_not_the_machine(fake_cuda):
    assert dist_backend(torch.device("cuda:0")) == "nccl"
    assert dist_backend(torch.device("cpu")) == "gloo"  # device=cpu on a GPU machine: NCCL takes no CPU tensors


def _torchrun_env(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": str(port), "TORCHELASTIC_RUN_ID": "test"}.items():
        monkeypatch.setenv(k, v)


def test_one_torchrun_process_joins_a_group_with_the_device_backend(fake_cuda, monkeypatch):
    _torchrun_env(monkeypatch)
    try:
        assert init_distributed(torch.device("cpu")) == (0, 1)
        assert dist.is_initialized() and dist.get_backend() == "gloo"
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_a_cuda_process_takes_its_gpu_before_asking_for_nccl(fake_cuda, monkeypatch):
    _torchrun_env(monkeypatch)
    calls = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(("set_device", d)))
    monkeypatch.setattr(dist, "init_process_group", lambda backend: calls.append(("init", backend)))
    monkeypatch.setattr(dist, "get_rank", lambda: 0)
    monkeypatch.setattr(dist, "get_world_size", lambda: 1)
    assert init_distributed(torch.device("cuda:0")) == (0, 1)
    assert calls == [("set_device", torch.device("cuda:0")), ("init", "nccl")]


def test_without_torchrun_there_is_no_group(monkeypatch):
    for k in ("WORLD_SIZE", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(k, raising=False)
    assert init_distributed(torch.device("cpu")) == (0, 1) and not dist.is_initialized()


def test_a_gan_under_one_torchrun_process_uses_the_collectives_and_resumes(tmp_path, monkeypatch):
    """What `torchrun --nproc_per_node 1` does on one GPU (there with NCCL): the GAN averages its
    gradients through the group, the summary names the backend, the group is closed at the end,
    and the checkpoint resumes under torchrun again."""
    _torchrun_env(monkeypatch)
    small = {"type": "mlp", "hidden": [16]}
    raw = {"name": "gan_one", "kind": "gan", "device": "cpu", "data": {"source": "ring8"},
           "generator": {"backbone": small, "noise_dim": 2}, "discriminator": {"backbone": small},
           "objective": {"batch_size": 32, "r1": 0.1}, "eval": {"samples": 100, "pictures": False},
           "perf": {"steps_per_unit": 5}, "train": {"total_steps": 10, "eval_every": 10, "progress": False},
           "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}}}
    calls = []
    from rlgen.agents.gan import ddp

    real_average = ddp.average_gradients
    monkeypatch.setattr(ddp, "average_gradients", lambda m: (calls.append(1), real_average(m)))
    first = rlgen.train(raw)
    assert first.summary["distributed"] == {"backend": "gloo", "world_size": 1}
    assert first.summary["device"] == "cpu" and len(calls) == 20  # 10 D + 10 G steps
    assert not dist.is_initialized()  # the runner closes the group it opened
    _torchrun_env(monkeypatch)  # a fresh port for the second group
    again = rlgen.train(resume=first.run_dir, overrides=["train.total_steps=20"])
    assert again.summary["status"] == "completed" and again.summary["global_step"] == 20
    assert again.summary["distributed"]["backend"] == "gloo"


def test_without_torchrun_the_summary_says_not_distributed(tmp_path):
    from tests.runner.toy import ToyExperiment, toy_config

    cfg = toy_config(tmp_path)
    summary = runner_mod.Runner(cfg, ToyExperiment(cfg)).run()
    assert summary["distributed"] is None and summary["device"] == "cpu"


def test_checkpoints_carry_the_cuda_generators(monkeypatch):
    """On a GPU, SB3 samples actions from the CUDA generator: an exact resume needs its state."""
    saved = [torch.tensor([1, 2], dtype=torch.uint8), torch.tensor([3, 4], dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: saved)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    state = process.rng_state()
    assert state["cuda"] is saved
    process.set_rng_state(state)
    assert restored == [saved]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # resumed on a machine with other GPUs
    process.set_rng_state(state)
    assert restored == [saved]  # left as seeded
    process.set_rng_state({k: v for k, v in state.items() if k != "cuda"})  # a CPU run's checkpoint


def test_cuda_generators_are_not_touched_when_cuda_is_unused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)  # device=cpu on a GPU machine
    assert "cuda" not in process.rng_state()


def _sb3_advice(chosen: bool) -> list[str]:
    """SB3's own check, run on a stand-in for a PPO model on a GPU, inside gpu_by_choice(chosen)."""
    model = types.SimpleNamespace(device=torch.device("cuda"), policy_class=ActorCriticPolicy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with gpu_by_choice(chosen):
            OnPolicyAlgorithm._maybe_recommend_cpu(model)
    return [str(w.message) for w in caught]


def test_sb3_cpu_advice_is_silenced_only_for_backbones_that_asked_for_the_gpu():
    assert _sb3_advice(True) == []
    advice = _sb3_advice(False)  # an MLP forced onto a GPU: SB3's advice is right and stays
    assert len(advice) == 1 and "on the GPU" in advice[0]

"""The RL kind: same seed -> same weights; save -> load -> same actions; interrupt -> resume."""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlgen.agents.rl.experiment import RLExperiment
from rlgen.api import config_path
from rlgen import checkpoint
from rlgen.api import load_config
from rlgen.cli import main
from rlgen.errors import RlgenError
from rlgen.logging import Logger
from rlgen.runner import RunContext, Runner
from rlgen.testing import check_experiment
from tests.agents.rl_helpers import rl_config
from tests.test_configs import smoke_overrides

ROOT = Path(__file__).resolve().parents[2]


def _weights(exp):
    return {k: v.clone() for k, v in exp.model.policy.state_dict().items()}


def _train(tmp_path, **kw):
    cfg = rl_config(tmp_path, "ppo", "CartPole-v1", total=1024, hyperparams={"n_steps": 64, "batch_size": 128}, **kw)
    exp = RLExperiment(cfg)  # the runner by hand, not rlgen.train: the tests read the live experiment
    runner = Runner(cfg, exp)
    runner.run()
    return exp, runner


def test_same_seed_gives_the_same_weights_and_another_seed_does_not(tmp_path):
    a, _ = _train(tmp_path / "a")
    b, _ = _train(tmp_path / "b")
    c, _ = _train(tmp_path / "c", seed=1)
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_an_off_policy_run_stops_at_its_total_steps_not_a_unit_later(tmp_path):
    cfg = rl_config(tmp_path, "dqn", "CartPole-v1", n_envs=2, total=301,
                    hyperparams={"learning_starts": 10, "buffer_size": 1000},
                    train={"total_steps": 301, "eval_every": 1000, "eval_episodes": 2, "progress": False})
    exp = RLExperiment(cfg)
    Runner(cfg, exp).run()
    assert 301 <= exp.global_step <= 304  # SB3's own granularity (train_freq 4); a unit would have been 1,000


@pytest.mark.parametrize("algo, optim, eps", [
    ("ppo", {}, 1e-5),                                    # SB3's own on-policy default
    ("ppo", {"fused": True}, 1e-5),                       # fused is the same update: eps stays SB3's
    ("a2c", {"betas": [0.9, 0.99]}, 1e-5),
    ("ppo", {"fused": True, "eps": 1e-8}, 1e-8),          # a config's eps wins
    ("ppo", {"type": "adamw", "fused": True}, 1e-8),      # SB3 sets eps for Adam only: torch's default
    ("sac", {"fused": True}, 1e-8),                       # and for on-policy algorithms only
])
def test_optimizer_options_leave_sb3s_adam_eps_alone(tmp_path, algo, optim, eps):
    env_id = "Pendulum-v1" if algo == "sac" else "CartPole-v1"
    cfg = rl_config(tmp_path, algo, env_id, optim={"type": "adam", "lr": 3e-3, **optim})
    exp = RLExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), cfg.seed))
    try:
        optimizers = [m.optimizer for m in exp.model.policy.modules() if isinstance(getattr(m, "optimizer", None),
                                                                                  torch.optim.Optimizer)]
        assert optimizers and all(o.defaults["eps"] == eps for o in optimizers)
    finally:
        exp.close()


@pytest.mark.parametrize("backbone, wanted", [(None, False), ({"type": "mlp"}, False), ({"type": "gru"}, False),
                                              ({"type": "cnn"}, True), ({"type": "transformer"}, True)])
def test_device_auto_asks_for_an_accelerator_by_the_backbone_trait(tmp_path, backbone, wanted):
    cfg = rl_config(tmp_path, agent={"algo": "ppo", "policy": {"backbone": backbone}})
    assert RLExperiment(cfg).prefers_accelerator is wanted


def test_save_then_load_gives_the_same_deterministic_actions(tmp_path):
    exp, runner = _train(tmp_path)
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    expected = exp.predict(obs)

    cfg = load_config(runner.run_dir / "config.yaml", [])
    fresh = RLExperiment(cfg)
    fresh.setup(RunContext(cfg, runner.run_dir, torch.device("cpu"), Logger([]), seed=123))
    assert not np.array_equal(fresh.predict(obs), expected)  # untrained: different actions
    fresh.load_state_dict(checkpoint.load(runner.run_dir)["experiment"])
    np.testing.assert_array_equal(fresh.predict(obs), expected)
    fresh.close()


@pytest.mark.parametrize("algo, env_id, hyperparams", [
    ("ppo", "CartPole-v1", {"n_steps": 64, "batch_size": 128}),
    ("sac", "Pendulum-v1", {"learning_starts": 50, "buffer_size": 1000, "batch_size": 32}),
])
def test_interrupt_then_resume_continues_from_the_checkpoint(tmp_path, algo, env_id, hyperparams, monkeypatch):
    off_policy = algo == "sac"
    cfg = rl_config(tmp_path, algo, env_id, n_envs=1 if off_policy else 2, total=400 if off_policy else 1024,
                    hyperparams=hyperparams)
    cfg.train.eval_every = 150 if off_policy else 10_000  # off-policy units are min(eval_every, 1000) steps
    first = RLExperiment(cfg)
    units = []
    original = RLExperiment.train_unit

    def interrupting(self):
        out = original(self)
        units.append(self.global_step)
        if len(units) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    monkeypatch.setattr(RLExperiment, "train_unit", interrupting)
    runner = Runner(cfg, first)
    assert runner.run()["status"] == "interrupted"
    monkeypatch.setattr(RLExperiment, "train_unit", original)
    state = checkpoint.load(runner.run_dir)
    assert state["global_step"] == units[1] == first.model.num_timesteps

    resumed = RLExperiment(cfg)
    seen = {}
    real_setup = resumed.load_state_dict

    def spy(s):
        real_setup(s)
        seen["weights"] = _weights(resumed)
        opt = resumed.model.policy.optimizer if algo == "ppo" else resumed.model.actor.optimizer
        seen["optim"] = copy.deepcopy(opt.state_dict())  # its tensors keep changing as training goes on
        seen["step"] = resumed.model.num_timesteps
        buffer = getattr(resumed.model, "replay_buffer", None)
        seen["buffer_size"] = buffer.size() if buffer is not None else None

    resumed.load_state_dict = spy
    summary = Runner(cfg, resumed, resume_dir=runner.run_dir).run()
    assert summary["status"] == "completed" and summary["global_step"] >= cfg.train.total_steps
    assert seen["step"] == units[1]
    w1 = _weights(first)
    assert all(torch.equal(w1[k], seen["weights"][k]) for k in w1)
    ref = first.model.policy.optimizer if algo == "ppo" else first.model.actor.optimizer
    assert ref.state_dict()["state"][0]["step"] == seen["optim"]["state"][0]["step"] > 0
    if algo == "sac":
        assert seen["buffer_size"] == first.model.replay_buffer.size() == units[1]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_to_the_process_group_with_subprocess_envs_leaves_a_resumable_checkpoint(tmp_path, sig, code):
    """Ctrl-C in a terminal, and a scheduler's SIGTERM (scancel, systemd), reach the workers too."""
    args = [sys.executable, "-m", "rlgen", "train", str(ROOT / "configs/ppo_cartpole.yaml"),
            f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.progress=false",
            "env.vectorize=subproc", "env.n_envs=2", "train.total_steps=10000000", "train.eval_every=100000",
            "train.early_stop.target=null"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group, as a terminal's or a job's
    deadline = time.time() + 120
    metrics = None
    while time.time() < deadline:
        found = list(tmp_path.glob("*/*/metrics.jsonl"))
        if found and found[0].read_text().count("\n") >= 3:
            metrics = found[0]
            break
        time.sleep(0.2)
    assert metrics is not None, "the run never logged"
    os.killpg(proc.pid, sig)  # the trainer and its env workers alike
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == code, out
    assert "resume with:   rlgen train --resume" in out
    run_dir = metrics.parent
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert checkpoint.load(run_dir)["global_step"] == summary["global_step"] > 0
    rc = main(["train", "--resume", str(run_dir), f"train.total_steps={summary['global_step'] + 512}",
               "env.vectorize=dummy", "train.progress=false"])
    assert rc == 0
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"


def test_eval_command_reports_the_checkpoint(tmp_path, capsys):
    _, runner = _train(tmp_path)
    assert main(["eval", str(runner.run_dir), "--episodes", "3"]) == 0
    out = capsys.readouterr().out  # the figures: stdout, so `rlgen eval RUN > scores.txt` keeps them
    assert "eval/return_mean" in out and "at step 1,024" in out


def test_eval_records_a_video_of_one_episode(tmp_path):
    _, runner = _train(tmp_path)
    assert main(["eval", str(runner.run_dir), "--episodes", "1", "--video"]) == 0
    videos = list((runner.run_dir / "media" / "videos").rglob("*.mp4"))
    assert [v.relative_to(runner.run_dir).as_posix() for v in videos] == [
        "media/videos/eval_step_1024/eval-episode-0.mp4"] and videos[0].stat().st_size > 1000  # beside step_N


def test_eval_of_a_directory_without_a_run_is_a_readable_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "is not a run directory" in capsys.readouterr().err


def test_a_resume_to_fewer_steps_than_done_is_refused_and_changes_nothing(tmp_path, capsys):
    _, runner = _train(tmp_path)
    files = {p: p.read_bytes() for p in runner.run_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    assert main(["train", "--resume", str(runner.run_dir), "train.total_steps=512"]) == 2
    assert "it is at step 1,024 already; give a larger budget" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in files} == files


@pytest.mark.parametrize("episodes", [2, 8])
def test_a_resume_with_another_number_of_eval_episodes_evaluates_on_fresh_eval_envs(tmp_path, capsys, episodes):
    _, runner = _train(tmp_path)  # 4 eval episodes, so 4 eval envs saved with the run
    assert main(["train", "--resume", str(runner.run_dir), "train.total_steps=1536",
                 f"train.eval_episodes={episodes}", "train.progress=false"]) == 0
    assert "the evaluation envs cannot be restored" in capsys.readouterr().err.replace("\n", " ")
    summary = json.loads((runner.run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_step"] == 1536


def test_the_sync_line_covers_every_offline_run_of_a_resumed_run(tmp_path, capsys):
    from rlgen.cli import _report

    for name in ("offline-run-1", "offline-run-2"):
        (tmp_path / "wandb" / name).mkdir(parents=True)
    _report({"status": "completed", "global_step": 1, "wall_time_s": 0.1, "final": {}, "target_reached": None}, tmp_path)
    assert f"wandb sync {tmp_path / 'wandb' / 'offline-run-*'}" in capsys.readouterr().err.replace("\n", "")
    for name in ("offline-run-1", "offline-run-2"):  # W&B did not start: its debug logs alone, nothing to sync
        (tmp_path / "wandb" / name).rmdir()
    (tmp_path / "wandb" / "debug.log").write_text("")
    _report({"status": "completed", "global_step": 1, "wall_time_s": 0.1, "final": {}, "target_reached": None}, tmp_path)
    assert "wandb" not in capsys.readouterr().err


def test_rl_zoo3s_atari_ids_are_known():
    """In a fresh process: nothing else has registered ale_py's envs there."""
    pytest.importorskip("ale_py")
    code = ("from rlgen.envs import check_env_id; "
            "print(check_env_id('PongNoFrameskip-v4'), check_env_id('BreakoutNoFrameskip-v4'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["None", "None"]


def test_resume_with_a_config_is_refused_with_a_fix(tmp_path, capsys):
    _, runner = _train(tmp_path)
    assert main(["train", "ppo_cartpole", "--resume", str(runner.run_dir)]) == 2
    assert "give overrides only" in capsys.readouterr().err


@pytest.mark.parametrize("config, overrides, says", [
    ("ppo_cartpole", ["env.id=FrozenLake-v1"], "env.normalize.obs: FrozenLake-v1 observes Discrete(16)"),
    ("ppo_cartpole", ["env.id=FrozenLake-v1", "env.normalize=null", "env.frame_stack=2"], "env.frame_stack:"),
    ("ppo_cartpole", ["env.id=Blackjack-v1", "env.normalize=null"], "env.wrappers: [FlattenObservation]"),
    ("ppo_cartpole", ["agent.algo=maskable_ppo"], "maskable_ppo needs action masks"),
    ("ppo_cartpole", ["env.wrappers=[{TimeLimit: {max_episode_steps: -3}}]"], "ValueError: Expect the `max_episode_steps`"),
    ("ppo_cartpole", ["env.id=FrozenLake-v1", "env.normalize=null", "env.kwargs={map_name: 9x9}"], "KeyError: '9x9'"),
    ("ppo_cartpole", ["env.vectorize=subproc", "env.n_envs=2", "env.kwargs={foo: 1}"], "unexpected keyword argument 'foo'"),
    ("recurrent_ppo_cartpole_novel", ["agent.policy.backbone={type: gru}"], "use type: lstm"),
])
def test_an_env_or_algorithm_that_cannot_work_is_one_line_and_no_run_directory(tmp_path, capsys, config, overrides, says):
    assert main(["train", config, *overrides, f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                 "train.progress=false"]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, extra", [("ppo_cartpole", []), ("dqn_cartpole", ["train.eval_every=256"]),
                                         ("ppo_cartpole", ["env.normalize.freeze_after=512"])])  # frozen at the 2nd unit
def test_honours_the_experiment_protocol(name, extra):
    report = check_experiment("rl", name, [*smoke_overrides(config_path(name)), "train.eval_episodes=2", *extra])
    assert report.exact and "loss/total" in report.metric_names


def test_evaluation_of_an_env_without_a_step_limit_always_ends(tmp_path, monkeypatch, capsys):
    import rlgen
    import rlgen.agents.rl.experiment as rl_experiment
    import rlgen.envs as envs

    cap = {"TimeLimit": {"max_episode_steps": 7}}
    assert envs.step_capped("FrozenLake-v1", {"is_slippery": False}, []) == {"is_slippery": False}  # its own: 100
    assert envs.step_capped("CliffWalking-v1", {}, [cap]) == {}  # the user's own
    assert envs.step_capped("CliffWalking-v1", {"max_episode_steps": 9}, []) == {"max_episode_steps": 9}
    monkeypatch.setattr(envs, "EPISODE_STEP_CAP", 60)
    monkeypatch.setattr(rl_experiment, "EPISODE_STEP_CAP", 60)
    assert envs.step_capped("CliffWalking-v1", {}, []) == {"max_episode_steps": 60}
    run = rlgen.train("ppo_cartpole", ["env.id=CliffWalking-v1", "env.normalize=null", "env.n_envs=2",
                                       "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
                                       "train.total_steps=32", "train.eval_every=32", "train.eval_episodes=2",
                                       "train.early_stop.target=null", f"logging.dir={tmp_path}",
                                       "logging.wandb.mode=disabled", "train.progress=false"])
    assert run.summary["final"]["eval/length_mean"] == 60  # an untrained deterministic policy walks in circles
    assert "has no step limit of its own: evaluation episodes were cut at 60 steps" in capsys.readouterr().err


class _WrongShape(gym.Env):
    """Declares (3,) observations and returns (4,)."""

    observation_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action):
        return np.zeros(4, np.float32), 0.0, False, True, {}


def test_an_env_that_breaks_its_own_observation_space_is_one_line_and_no_run(tmp_path):
    import warnings

    import rlgen

    if "rlgen_test/WrongShape-v0" not in gym.registry:
        gym.register(id="rlgen_test/WrongShape-v0", entry_point=_WrongShape)
    with warnings.catch_warnings(), pytest.raises(RlgenError, match=r"reset\(\) returned an observation of shape "
                                                                    r"\(4,\), but its observation_space is Box"):
        warnings.simplefilter("ignore")  # gymnasium's own checker warns first
        rlgen.train("ppo_cartpole", ["env.id=rlgen_test/WrongShape-v0", "env.normalize=null",
                                     f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.progress=false"])
    assert list(tmp_path.iterdir()) == []


def test_a_run_whose_last_unit_passed_its_budget_resumes_to_nothing_to_do(tmp_path):
    import rlgen

    run = rlgen.train("ppo_cartpole", ["env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
                                       "train.total_steps=40", "train.eval_every=32", "train.eval_episodes=1",
                                       "train.early_stop.target=null", f"logging.dir={tmp_path}",
                                       "logging.wandb.mode=disabled", "train.progress=false"])
    assert run.summary["global_step"] == 64  # two units of 32 for a budget of 40
    again = rlgen.train(resume=run.run_dir)  # its own budget: not "fewer steps than done"
    assert again.exit_code == 0 and again.summary["global_step"] == 64


def test_a_finished_run_whose_best_checkpoint_is_gone_says_so(tmp_path, capsys):
    _, runner = _train(tmp_path)
    (runner.run_dir / "checkpoints" / "best" / "state.pt").unlink()
    assert main(["eval", str(runner.run_dir), "--checkpoint", "best", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "best checkpoint" in err and "missing or damaged" in err and "never evaluated" not in err
    assert main(["eval", str(runner.run_dir), "--episodes", "1"]) == 0  # the default falls back, and says so
    err = capsys.readouterr().err.replace("\n", " ")
    assert "opened the run's newest intact checkpoint" in err and "trained again" not in err


def test_a_npy_array_named_npz_is_one_line(tmp_path):
    from rlgen.envs.demo_formats import NpzFormat

    path = tmp_path / "demos.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(RlgenError, match="is not a .npz of plain arrays"):
        NpzFormat().read(path)

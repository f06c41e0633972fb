"""The GPU paths side by side (issue 15), in one run, every arm through rlgen's own runner.

Sections (each arm is one `rlgen.train` run; steps/s are the median of the runner's `time/fps`
over the training units after the first, which holds torch.compile, cuDNN's choices and the CUDA
context; evaluations are not in them):

- auto:      `device: auto` on the bundled configs: CUDA for CNN and Transformer nets when a GPU
             is there, the CPU for MLP and recurrent agents (rlgen.process.choose_device with each
             kind's prefers_accelerator), checked against the rule written out below.
- torchrun:  `torchrun --nproc_per_node 1 -m rlgen train gan_digits_dcgan` (NCCL on CUDA, gloo on
             the CPU): it runs, names its backend, and `--resume` continues it under torchrun.
- gan_dcgan, gan_transformer: gan_digits_dcgan and gan_sine_transformer in fp32 eager, bf16
             autocast, and bf16 + torch.compile (one arm per --compile-modes): generator steps/s
             and quality (digits: Fréchet classifier distance; sine waves: MMD², rlgen's
             sequence metric), final and best over the run's evaluations.
- ppo_cnn:   PPO with the CNN backbone on a pixel env (--pixel-env: ALE Pong, configs/ppo_cnn_pong.yaml,
             as gpu_reference_cpu.json ran it; or MinAtar Breakout): env steps/s on --device vs
             the CPU with --cpu-threads threads.
- ppo_transformer: configs/ppo_transformer_cartpole_novel.yaml (the Transformer memory policy on
             CartPole without velocities): env steps/s on --device vs the CPU.

One table with ratios to each section's first arm, and a JSON of every figure (--out), written
after each section so a run cut short keeps what it measured. Installs nothing.

    python benchmarks/gpu.py --device cuda --out gpu.json           # on a GPU (minutes)
    python benchmarks/gpu.py --device cpu --quick                   # the same code, a few steps
    python benchmarks/gpu.py --device cuda --reference benchmarks/gpu_reference_cpu.json
        # --reference: a JSON of an earlier run (e.g. --device cpu on a 2-core machine); its
        # CPU arms join the PPO sections as their first arm, so the ratios are against it
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import benchkit
import gymnasium as gym
import torch
from gpu_table import add_ratios, print_row, reference, reference_rows, Row, table, targets, write_json

import rlgen
from rlgen import summary_file
from rlgen.experiment import prefers_accelerator
from rlgen.process import choose_device

QUIET = ["logging.wandb.mode=disabled", "logging.console=false", "train.progress=false", "seed=0"]
SECTIONS = ("auto", "torchrun", "gan_dcgan", "ppo_cnn", "ppo_transformer", "gan_transformer")

# The rule `device: auto` must follow, written out independently of the code that applies it:
# config -> whether it belongs on a GPU when there is one (CNN / Transformer nets yes; MLPs,
# recurrences and SB3's default extractor no).
AUTO_EXPECTED = {
    "ppo_cartpole": False, "dqn_cartpole": False, "sac_pendulum": False, "ppo_lstm_cartpole_novel": False,
    "recurrent_ppo_cartpole_novel": False, "ppo_cnn_pong": True, "ppo_cartpole_transformer": True,
    "ppo_transformer_cartpole_novel": True, "gan_ring8": False, "gan_digits_dcgan": True,
    "gan_digits_conditional": True, "gan_sine_lstm": False, "gan_sine_transformer": True,
    "gan_cartpole_frames": True, "selfplay_tictactoe": False, "teams_simple_tag": False,
}


# --- running one arm ------------------------------------------------------------------------------


def train_arm(config: str, overrides: list[str], tmp: Path) -> tuple[Any, list[dict[str, Any]]]:
    """One run through rlgen's API; its summary and the rows of its metrics.jsonl."""
    run = benchkit.finished(rlgen.train(config, [*overrides, f"logging.dir={tmp}", *QUIET]))
    rows = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    return run, rows


def steady_speed(rows: list[dict[str, Any]]) -> float | None:
    """Median `time/fps` of the training units after the first (compile, autotuning, CUDA init)."""
    fps = [r["time/fps"] for r in rows if "time/fps" in r]
    return statistics.median(fps[1:] if len(fps) > 1 else fps) if fps else None


def guarded(section: str, arm: str, fn: Callable[[], Row]) -> Row:
    """One arm; an exception becomes a FAIL row so the other arms still run (device time is short).
    Ctrl-C or SIGTERM (an interrupted run: `benchkit.finished`) is no exception here: it stops them all."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - reported in the table and the JSON, with the traceback on stderr
        traceback.print_exc()
        return Row(section, arm, check="FAIL", note=f"{type(e).__name__}: {str(e)[:300]}")


# --- sections -------------------------------------------------------------------------------------


def auto_rows(args: argparse.Namespace, tmp: Path) -> list[Row]:
    gpu = torch.cuda.is_available()
    rows = []
    for config, on_gpu in AUTO_EXPECTED.items():
        def one(config: str = config, on_gpu: bool = on_gpu) -> Row:
            exp = rlgen.make_experiment(rlgen.load_config(config))
            wants = prefers_accelerator(exp)
            chosen = choose_device("auto", wants).type
            expected = "cuda" if (on_gpu and gpu) else "cpu"
            ok = chosen == expected and wants == on_gpu  # the kind's own preference is checked on a CPU too
            return Row("auto", config, device=chosen, check="ok" if ok else "FAIL",
                       quality={"prefers_accelerator": wants},
                       note=f"expected {expected}" + ("" if gpu else " (no GPU here)"))
        rows.append(guarded("auto", config, one))
    return rows


def torchrun_rows(args: argparse.Namespace, tmp: Path) -> list[Row]:
    steps = 10 if args.quick else 200
    unit = 5 if args.quick else 100
    backend = "nccl" if args.device.startswith("cuda") else "gloo"
    out = tmp / "torchrun"

    def launch(extra: list[str]) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
               "-m", "rlgen", "train", *extra]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        # run from the temporary folder: `-m` puts the working directory first on sys.path, and a
        # checkout's rlgen/ folder would shadow the installed package (whose rlgen.agents it lacks)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.torchrun_timeout, cwd=tmp)
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: {(done.stdout + done.stderr)[-1500:]}")
        return done

    def one() -> Row:
        common = [f"device={args.device}", f"perf.steps_per_unit={unit}", "eval.samples=200", "eval.pictures=false",
                  f"logging.dir={out}", *QUIET]
        t0 = time.perf_counter()
        launch(["gan_digits_dcgan", f"train.total_steps={steps}", f"train.eval_every={steps}", *common])
        (run_dir,) = (out / "gan_digits_dcgan").iterdir()
        first = summary_file.from_text((run_dir / "summary.json").read_text())
        resumed = launch(["--resume", str(run_dir), f"train.total_steps={2 * steps}", f"train.eval_every={steps}"])
        second = summary_file.from_text((run_dir / "summary.json").read_text())
        wall = time.perf_counter() - t0
        seen = (first.get("distributed") or {}).get("backend"), (second.get("distributed") or {}).get("backend")
        ok = (first["status"] == second["status"] == "completed" and first["global_step"] == steps
              and second["global_step"] == 2 * steps and seen == (backend, backend)
              and f"resumed from step {steps:,}" in resumed.stdout + resumed.stderr)
        return Row("torchrun", f"nproc 1, {steps} steps + resume to {2 * steps}", device=second.get("device", ""),
                   check="ok" if ok else "FAIL",
                   quality={"backend": seen[1], "world_size": (second.get("distributed") or {}).get("world_size"),
                            "first_step": first["global_step"], "resumed_to": second["global_step"],
                            "frechet": second["final"].get("eval/frechet")},
                   note=f"expected backend {backend}; {wall:.0f} s for both launches")
    return [guarded("torchrun", "nproc 1", one)]


def gan_rows(section: str, config: str, metric: str, args: argparse.Namespace, tmp: Path) -> list[Row]:
    steps = args.gan_steps if args.gan_steps is not None else 20 if args.quick else 3000
    unit = 5 if args.quick else 100
    every = steps if args.quick else max(unit, steps // 6)
    common = [f"device={args.device}", f"train.total_steps={steps}", f"train.eval_every={every}",
              f"perf.steps_per_unit={unit}", "eval.pictures=false"]
    if args.quick:
        common.append("eval.samples=200")
    arms = {"fp32 eager": ["perf.precision=fp32", "perf.compile=false"],
            "bf16 autocast": ["perf.precision=bf16", "perf.compile=false"]}
    for mode in args.compile_modes:
        label = "bf16 + compile" + ("" if mode == "default" else f" ({mode})")
        arms[label] = ["perf.precision=bf16", "perf.compile=true", f"perf.compile_mode={mode}"]
    rows: list[Row] = []
    for arm, extra in arms.items():
        def one(extra: list[str] = extra, arm: str = arm) -> Row:
            run, metrics = train_arm(config, [*common, *extra], tmp)
            s = run.summary
            return Row(section, arm, device=s["device"], speed=steady_speed(metrics), unit="G steps/s",
                       quality={metric: s["final"].get(f"eval/{metric}"), f"best_{metric}": s["best"]["value"],
                                "best_step": s["best"]["global_step"]},
                       settings={"config": config, "steps": steps, "steps_per_unit": unit})
        rows.append(guarded(section, arm, one))
        print_row(rows[-1])
    return rows


# ppo_cnn_pong turned into PPO on MinAtar's 10x10xC boolean frames: channels first as uint8, and
# the MinAtar paper's network (one 16-channel 3x3 convolution, 128 units), since Nature-CNN's 8x8
# stride-4 kernel does not fit a 10x10 frame
MINATAR = ["env.kwargs={}", "env.wrappers=[BinaryFrames]",
           "agent.policy.backbone={type: cnn, channels: [16], kernels: [3], strides: [1], hidden: 128}"]


PIXEL_ENVS = ("pong", "minatar")  # --pixel-env; the first is the one gpu_reference_cpu.json ran


def pixel_env(name: str) -> tuple[str, list[str], str]:
    """(config, overrides, env name) of --pixel-env `name`: named, not picked by what is installed, so
    a run compares with a reference that ran the same env (MinAtar's presence silently changed it)."""
    if name == "minatar":
        # minatar registers its ids through a `gymnasium.envs` entry point, which gymnasium 1.x no
        # longer loads by itself
        from minatar.gym import register_envs

        if "MinAtar/Breakout-v1" not in gym.registry:
            register_envs()
        return "ppo_cnn_pong", ["env.id=MinAtar/Breakout-v1", *MINATAR], "MinAtar/Breakout-v1"
    return "ppo_cnn_pong", ["eval_env.kwargs.max_num_frames_per_episode=400"], "ALE/Pong-v5"


def ppo_rows(section: str, args: argparse.Namespace, tmp: Path) -> list[Row]:
    if section == "ppo_cnn":
        config, env_over, env_name = pixel_env(args.pixel_env)
        quick = ["env.n_envs=2", "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=64",
                 "agent.hyperparams.n_epochs=1"]
        steps = args.ppo_steps if args.ppo_steps is not None else 128 if args.quick else 4096
        extra = [*env_over, "train.eval_episodes=1", "train.early_stop.target=null"]
    else:
        config, env_name = "ppo_transformer_cartpole_novel", "rlgen/CartPoleNoVel-v1"
        quick = []
        steps = args.ppo_steps if args.ppo_steps is not None else 512 if args.quick else 8192
        extra = ["train.early_stop.target=null"]
    extra += [f"train.total_steps={steps}", f"train.eval_every={steps}", *(quick if args.quick else [])]
    settings = {"config": config, "env": env_name, "steps": steps, "quick": args.quick}
    threads = "null" if args.cpu_threads is None else args.cpu_threads
    arms = {f"cpu, {args.cpu_threads or 1} thread(s)": ["device=cpu", f"train.threads={threads}"],
            args.device: [f"device={args.device}", "train.threads=null"]}
    rows = reference_rows(section, settings, args.reference)
    for arm, dev in arms.items():
        def one(dev: list[str] = dev, arm: str = arm) -> Row:
            run, metrics = train_arm(config, [*extra, *dev], tmp)
            s = run.summary
            return Row(section, arm, device=s["device"], speed=steady_speed(metrics), unit="env steps/s",
                       quality={"return": s["final"].get("eval/return_mean")},
                       note=f"{config} on {env_name}", settings=settings)
        rows.append(guarded(section, arm, one))
        print_row(rows[-1])
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = benchkit.Parser(description=__doc__.split("\n")[0])
    p.add_argument("--device", type=benchkit.device, default="cuda", help="the device under test: cuda, cuda:N or cpu")
    p.add_argument("--quick", action="store_true", help="a few steps per arm: checks that everything runs")
    p.add_argument("--only", nargs="+", action=benchkit.Distinct, choices=SECTIONS, default=list(SECTIONS), help="sections to run, in this order")
    p.add_argument("--gan-steps", type=benchkit.count, default=None,
                   help="generator steps per GAN arm (default 3000; quick 20)")
    p.add_argument("--ppo-steps", type=benchkit.count, default=None,
                   help="env steps per PPO arm (default 4096 CNN / 8192 Transformer)")
    p.add_argument("--compile-modes", nargs="+", action=benchkit.Distinct, default=["default"],
                   choices=["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
                   help="one bf16 + torch.compile arm per mode")
    p.add_argument("--pixel-env", choices=PIXEL_ENVS, default=PIXEL_ENVS[0],
                   help="the ppo_cnn section's env: pong (ALE Pong, as the shipped reference) or minatar (Breakout)")
    p.add_argument("--cpu-threads", type=benchkit.count, default=None,
                   help="torch threads of the PPO CPU arms (default: the runner's, 1, the fastest on the 2-core build machine)")
    p.add_argument("--reference", type=reference, default=None, help="JSON of an earlier run whose CPU arms head the PPO sections")
    p.add_argument("--torchrun-timeout", type=benchkit.count, default=600, help="seconds for each torchrun launch")
    p.add_argument("--out", type=benchkit.output_file, default=None, help="write every figure as JSON here")
    p.add_argument("--label", default=None, help="the machine's name in the JSON (default: its host name)")
    args = p.parse_args(argv)
    if args.pixel_env == "minatar" and "ppo_cnn" in args.only and importlib.util.find_spec("minatar") is None:
        p.error("--pixel-env minatar needs the minatar package (pip install -e '.[minatar]'), or drop it for ALE Pong")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.time()
    choose_device(args.device, True)  # an explicit cuda without a GPU fails here, before any arm
    sections: dict[str, Callable[[argparse.Namespace, Path], list[Row]]] = {
        "auto": auto_rows, "torchrun": torchrun_rows,
        "gan_dcgan": lambda a, t: gan_rows("gan_dcgan", "gan_digits_dcgan", "frechet", a, t),
        "gan_transformer": lambda a, t: gan_rows("gan_transformer", "gan_sine_transformer", "mmd", a, t),
        "ppo_cnn": lambda a, t: ppo_rows("ppo_cnn", a, t),
        "ppo_transformer": lambda a, t: ppo_rows("ppo_transformer", a, t),
    }
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(f"rlgen GPU benchmark on {args.device} ({gpu}), torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs{', quick' if args.quick else ''}", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as d:
        for name in args.only:
            print(f"[{name}]", flush=True)
            rows += sections[name](args, Path(d))
            add_ratios(rows)
            write_json(args.out, rows, args, started)
    print()
    print(table(rows))
    for line in targets(rows):
        print(line)
    failed = [r for r in rows if r.check == "FAIL"]
    print(f"{len(rows)} rows, {len(failed)} failed, {time.time() - started:.0f} s" + (f"; JSON: {args.out}" if args.out else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    benchkit.main(main)

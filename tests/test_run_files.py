"""What a run writes beside its checkpoints (`rlgen.run_files`): a resumed run keeps the W&B name,
group and tags of its first start."""

import json
import time

import pytest

TINY = """name: my_ppo
kind: rl
env: {id: CartPole-v1, n_envs: 2}
agent: {algo: ppo, hyperparams: {n_steps: 16, batch_size: 32, n_epochs: 1}}
optim: {lr: 3.0e-4}
train: {total_steps: 32, eval_every: 32, eval_episodes: 1, progress: false}
logging: {dir: runs, console: false, wandb: {mode: offline}}
"""


def _runs(folder):
    """The `run` record (name, group, tags) of each offline W&B run folder, oldest first."""
    import subprocess
    import sys

    out = []
    for f in sorted(folder.glob("offline-run-*/run-*.wandb")):  # the log itself, as the compare tests read it
        done = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(f)],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{f}: {done.stderr[-2000:]}"
        text = done.stdout
        out += [r["run"] for r in map(json.loads, filter(lambda line: line.startswith("{"), text.splitlines()))
                if r["type"] == "run"][:1]
    return out


def test_a_resumed_run_keeps_the_wandb_name_of_its_first_start(tmp_path):
    """The resume reads config.yaml, which holds `optim.lr=1e-3` as if the file had said it: the
    resumed W&B run was renamed `my_ppo s0`, in group `my_ppo`, without its lr tag. Each start is a
    process of its own, as from a shell: W&B's state in this test process is other tests' too."""
    import os
    import subprocess
    import sys

    # none of this process's W&B settings: WANDB_SERVICE, once another test used W&B here, would send the
    # runs' logs to this process's W&B service, which writes them when it pleases
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}, "WANDB_MODE": "offline",
           "WANDB_DATA_DIR": str(tmp_path / "wandb-data")}
    (tmp_path / "my_ppo.yaml").write_text(TINY)

    def rlgen(*args):
        done = subprocess.run([sys.executable, "-m", "rlgen", "train", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "W&B did not start" not in done.stdout + done.stderr

    rlgen("my_ppo.yaml", "optim.lr=1e-3")
    time.sleep(1.1)  # W&B names an offline run's folder by the second: a resume within it would share the folder
    (run_dir,) = (tmp_path / "runs" / "my_ppo").iterdir()
    rlgen("--resume", str(run_dir), "train.total_steps=64")
    kept = json.loads((run_dir / "wandb_identity.json").read_text())
    assert (kept["name"], kept["group"], kept["tags"]) == ("my_ppo lr=0.001 s0", "my_ppo lr=0.001", ["lr=0.001"])
    # each log W&B has written by now (in CI's full suite the second was at times not yet there: see the note)
    runs = _runs(run_dir / "wandb")
    assert runs
    for run in runs:
        assert (run["display_name"], run["run_group"]) == ("my_ppo lr=0.001 s0", "my_ppo lr=0.001")
        assert "lr=0.001" in run["tags"]


@pytest.mark.parametrize("kept", [
    {"name": "x" * 300, "group": "g", "tags": ["ok"]}, {"name": "n", "group": "g", "tags": [""]},
    {"name": "n", "group": "g", "tags": "abc"}, {"name": "", "group": "g", "tags": []}, [1], "[" * 100_000,
])
def test_a_kept_identity_outside_wandbs_limits_is_not_used(tmp_path, kept):
    from rlgen.run_files import _kept_identity

    path = tmp_path / "wandb_identity.json"
    path.write_text(kept if isinstance(kept, str) else json.dumps(kept))
    assert _kept_identity(path) is None  # the resume names the run from config.yaml, as without the file
    path.write_text(json.dumps({"name": "n s0", "group": "n", "tags": ["lr=1"]}))
    assert _kept_identity(path).tags == ["lr=1"]

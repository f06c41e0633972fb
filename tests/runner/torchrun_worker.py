"""One process of the runner's torchrun tests (tests/runner/test_torchrun.py): the toy kind, made
data-parallel as a plugin kind would declare it, so that what the ranks agree on (an evaluation's
decisions, signals, per-rank state over a resume) is tested without any GAN.

    python -m torch.distributed.run --standalone --nproc_per_node=2 torchrun_worker.py OUT SETTINGS
    python torchrun_worker.py OUT SETTINGS          # the same as one process, without torchrun

SETTINGS is JSON: {"runs": logging.dir, "train": {...train overrides}, "toy": {...toy settings},
"scores": [rank 0's eval/score at each evaluation, rank 1's, ...], "resume": RUN_DIR or null,
"run_dir": a new run's directory or null, "sigterm": {"rank": R, "after": a moment of `MOMENTS`}
or null}. Writes OUT/rank<R>.json: the run directory, its status, step and exit code, and what
`load_rank_state` was given ("not called", "fresh" for None, or the state); or, for a run refused,
{"error": its line}; or, for a run aborted, {"aborted": the signal}.
"""

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: `tests` is importable from the repository root

import torch  # noqa: E402

from rlgen import checkpoint, distributed  # noqa: E402
from rlgen.errors import Interrupted, RlgenError  # noqa: E402
from rlgen.runner import Runner  # noqa: E402
from tests.runner.toy import ToyExperiment, toy_config  # noqa: E402


class DataParallelToy(ToyExperiment):
    """The toy kind declaring data-parallel training, as a plugin kind may; each rank scores its
    own evaluations (`scores[rank]`), so ranks that decided alone would disagree."""

    data_parallel = True

    def __init__(self, cfg: Any, scores: list[list[float]]):
        super().__init__(cfg)
        self.scores, self.given = scores, "not called"

    def evaluate(self, episodes: int | None = None, video_dir: Any = None) -> dict[str, float]:
        mine = self.scores[min(self.ctx.rank, len(self.scores) - 1)]
        score = mine[min(self.evals, len(mine) - 1)]
        self.evals += 1
        return {"eval/score": score}

    def rank_state(self) -> dict[str, int]:
        return {"rank": self.ctx.rank, "step": self.global_step}

    def load_rank_state(self, state: dict[str, int] | None) -> None:
        self.given = "fresh" if state is None else state


# where a signal may reach one rank at an exact moment: just after the function named returns (for
# the all-reduce, that is when a signal that came while it waited is handled)
MOMENTS = {"setup": (DataParallelToy, "setup"), "agreement": (distributed, "agree_after_unit"),
           "checkpoint": (checkpoint, "save")}


def sigterm_once_after(moment: str) -> None:
    owner, name = MOMENTS[moment]
    original, sent = getattr(owner, name), []

    def then_sigterm(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    setattr(owner, name, then_sigterm)


def main() -> None:
    out, settings = Path(sys.argv[1]), json.loads(sys.argv[2])
    torch.set_num_threads(1)
    rank = os.environ.get("RANK", "0")  # also once the process group is closed
    if (sigterm := settings.get("sigterm")) and str(sigterm["rank"]) == rank:
        sigterm_once_after(sigterm["after"])
    cfg = toy_config(settings["runs"], toy=settings.get("toy", {}), **settings.get("train", {}))
    exp = DataParallelToy(cfg, settings.get("scores") or [[0.0]])
    runner = Runner(cfg, exp, resume_dir=settings.get("resume"), run_dir=settings.get("run_dir"))
    try:
        summary = runner.run()
    except RlgenError as e:  # a refusal: what each rank said
        (out / f"rank{rank}.json").write_text(json.dumps({"error": str(e)}))
        return
    except Interrupted as e:  # stopped before its loop
        (out / f"rank{rank}.json").write_text(json.dumps({"aborted": e.signum}))
        return
    (out / f"rank{rank}.json").write_text(json.dumps({
        "run_dir": str(runner.run_dir), "status": summary["status"], "global_step": exp.global_step,
        "exit_code": runner.exit_code, "given": exp.given}))


if __name__ == "__main__":
    main()

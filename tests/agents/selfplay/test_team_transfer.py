"""kind: teams transfer per side (`agent.sides.<side>.init`): the sides of simple_tag observe different
sizes (predators 16 numbers, the prey 14), so a trained backbone fits one side; it starts that side
only, frozen or at its own lr, from a run or one of its checkpoints, and survives resume."""

import shutil
from pathlib import Path

import pytest
import torch

pytest.importorskip("mpe2")

import rlgen  # noqa: E402
from rlgen.cli import main  # noqa: E402
from rlgen.errors import ConfigError, RlgenError  # noqa: E402
from rlgen.logging import Logger  # noqa: E402
from rlgen.optim import LR_ATTR  # noqa: E402
from rlgen.runner import RunContext  # noqa: E402
from rlgen.transfer import trunk  # noqa: E402

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "teams_simple_tag.yaml"
QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
TINY = ["game.copies=1", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=8", "game.kwargs.max_cycles=5",
        "schedule.units_per_phase=1", "ratings.episodes=1", "ratings.games_per_pair=1", "train.eval_episodes=1",
        "train.total_steps=64", "train.eval_every=32"]


def _backbones(run_dir, checkpoint=None):
    """Each side's policy backbone (the trunk `init` copies), by side."""
    with rlgen.load_run(run_dir, checkpoint=checkpoint) as run:
        return {role.removeprefix("policy_"): {k: v.clone() for k, v in trunk(m).state_dict().items()}
                for role, m in run.modules().items()}


def _same(a, b):
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def _setup(overrides, tmp_path):
    cfg = rlgen.load_config(CONFIG, [*QUIET, *TINY, *overrides])
    exp = rlgen.make_experiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), cfg.seed))
    return exp


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny teams run, seed 0, checkpointed at steps 32 and 64."""
    run = rlgen.train(CONFIG, [*QUIET, *TINY, f"logging.dir={tmp_path_factory.mktemp('source')}"])
    assert run.summary["status"] == "completed"
    return run.run_dir


def test_one_side_loads_a_frozen_backbone_the_other_starts_fresh_and_a_resume_needs_no_source(source, tmp_path):
    trained = _backbones(source)
    moved = shutil.copytree(source, tmp_path / "source")  # deleted before the resume
    init = f"agent.sides.adversary.init={{run: '{moved}', role: policy_adversary, freeze: true}}"
    run = rlgen.train(CONFIG, [*QUIET, *TINY, "seed=1", f"logging.dir={tmp_path / 'runs'}", init])
    assert run.summary["status"] == "completed" and run.summary["global_step"] == 64
    after = _backbones(run.run_dir, checkpoint="latest")
    assert _same(after["adversary"], trained["adversary"])  # loaded, and frozen through 32 predator steps
    assert not any(torch.equal(after["agent"][k], trained["agent"][k]) for k in after["agent"])  # its own
    shutil.rmtree(moved)
    resumed = rlgen.train(resume=run.run_dir, overrides=[*QUIET, "train.total_steps=128"])
    assert resumed.summary["status"] == "completed" and resumed.summary["global_step"] == 128
    final = _backbones(run.run_dir, checkpoint="latest")
    assert _same(final["adversary"], trained["adversary"])  # still frozen after the resume (restored, not reloaded)
    assert not _same(final["agent"], after["agent"])  # the other side went on learning


def test_a_side_init_touches_that_side_only_from_the_checkpoint_asked_for(source, tmp_path):
    at_32, at_64 = _backbones(source / "checkpoints" / "step_32"), _backbones(source, checkpoint="step_64")
    assert not _same(at_32["agent"], at_64["agent"])  # so the checkpoint chosen shows
    init = f"agent.sides.agent.init={{run: '{source / 'checkpoints' / 'step_32'}', role: policy_agent, lr: 1.0e-4}}"
    exp = _setup(["seed=1", init], tmp_path / "with")
    plain = _setup(["seed=1"], tmp_path / "without")
    try:
        mine, theirs = ({s: trunk(m) for s, m in e.modules().items()} for e in (exp, plain))
        assert _same(mine["policy_agent"].state_dict(), at_32["agent"])
        assert not _same(theirs["policy_agent"].state_dict(), at_32["agent"])
        # the other side is as it would be without the init: untouched, and not the source's
        assert _same(mine["policy_adversary"].state_dict(), theirs["policy_adversary"].state_dict())
        assert not _same(mine["policy_adversary"].state_dict(), at_32["adversary"])
        # unfrozen with its own lr on the loaded side only
        assert {getattr(p, LR_ATTR, None) for p in mine["policy_agent"].parameters()} == {1.0e-4}
        assert {getattr(p, LR_ATTR, None) for p in mine["policy_adversary"].parameters()} == {None}
        assert all(p.requires_grad for p in mine["policy_agent"].parameters())
    finally:
        exp.close(), plain.close()


def test_a_backbone_that_does_not_fit_the_side_names_the_line_that_asked_for_it(source, tmp_path):
    wrong = f"{{run: '{source}', role: policy_adversary}}"  # predators observe 16 numbers, the prey 14
    with pytest.raises(RlgenError) as info:
        _setup([f"agent.sides.agent.init={wrong}"], tmp_path / "a")
    assert str(info.value).startswith("agent.sides.agent.init: the policy_adversary of ")
    assert "layers.1.weight is (64, 16) there, layers.1.weight is (64, 14) here" in str(info.value)
    # the shared init loads into both sides: the side it does not fit is named, with the way to one side only
    with pytest.raises(RlgenError) as info:
        _setup([f"agent.policy.backbone.init={wrong}"], tmp_path / "b")
    message = str(info.value)
    assert message.startswith("agent.policy.backbone.init: the policy_adversary of ")
    assert message.endswith("(on side 'agent'; the sides observe different sizes, so a backbone fits one of them: "
                            "move this init to agent.sides.<side>.init of the side it was trained for)")


INIT = "{run: runs/teams_simple_tag, role: policy_adversary}"


@pytest.mark.parametrize("overrides, line", [
    ([f"agent.sides.prey.init={INIT}"], "agent.sides.prey: not a side of simple_tag_v3 (adversary, agent)"),
    ([f"agent.sides.adversary.init={INIT}", f"agent.policy.backbone.init={INIT}"],
     "agent.sides.adversary.init: agent.policy.backbone.init loads a backbone into both sides already; keep one of "
     "the two (for one side only: agent.sides.<side>.init alone)"),
    ([f"agent.sides.agent.init={INIT}", "agent.policy.backbone=null"],
     "agent.sides.agent.init: agent.policy has no backbone (SB3's default extractor) to load it into; set "
     "agent.policy.backbone to the type and sizes of the one in that run"),
])
def test_a_side_init_that_cannot_be_is_one_line_before_any_run_directory(overrides, line, tmp_path, capsys):
    with pytest.raises(ConfigError) as info:
        rlgen.load_config(CONFIG, overrides)
    assert info.value.problems == [line]
    assert main(["train", str(CONFIG), *QUIET, *overrides, f"logging.dir={tmp_path}"]) == 2
    assert line in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_side_init_beside_a_shared_one_on_another_key_is_refused_per_side():
    both = [f"agent.policy.backbone.init={INIT}", f"agent.sides.adversary.init={INIT}",
            f"agent.sides.agent.init={INIT}"]
    with pytest.raises(ConfigError) as info:
        rlgen.load_config(CONFIG, both)
    assert [p.split(":", 1)[0] for p in info.value.problems] == ["agent.sides.adversary.init", "agent.sides.agent.init"]

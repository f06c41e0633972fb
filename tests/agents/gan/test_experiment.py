"""The GAN kind under the shared runner: it learns a 1-D Gaussian and the ring, and resumes exactly."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlgen import api
from rlgen.agents.gan.config import GANConfig
from rlgen.agents.gan.experiment import GANExperiment
from rlgen.api import config_path
from rlgen.config import load_config
from rlgen.errors import ConfigError
from rlgen.runner import Runner
from rlgen.testing import check_experiment
from tests.test_configs import smoke_overrides

MLP = {"type": "mlp", "hidden": [32, 32]}


def config(tmp_path, source="gaussian", steps=300, **over):
    raw = {
        "name": "gan_test", "kind": "gan", "seed": 0, "device": "cpu",
        "data": {"source": source},
        "generator": {"backbone": MLP, "noise_dim": 4, "optim": {"lr": 1e-3, "betas": [0.5, 0.999]}},
        "discriminator": {"backbone": MLP, "optim": {"lr": 1e-3, "betas": [0.5, 0.999]}},
        "objective": {"batch_size": 128},
        "eval": {"samples": 400, "pictures": False},
        "perf": {"steps_per_unit": 50},
        "train": {"total_steps": steps, "eval_every": steps, "progress": False},
        "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}},
    }
    return load_config(raw, [f"{k}={v}" for k, v in over.items()], kinds={"gan": GANConfig})


def generator_mean(exp: GANExperiment) -> float:
    return float(exp.generate(2000, seed=1)[0].mean())


def test_generator_mean_moves_toward_a_1d_gaussian(tmp_path):
    cfg = config(tmp_path, steps=400)  # target N(3, 0.5); G starts near 0
    exp = GANExperiment(cfg)
    runner = Runner(cfg, exp)
    start = {}
    original_setup = exp.setup

    def setup(ctx):
        original_setup(ctx)
        start["mean"] = generator_mean(exp)

    exp.setup = setup
    runner.run()
    assert abs(start["mean"] - 3.0) > 2.0
    assert abs(generator_mean(exp) - 3.0) < 0.5


@pytest.mark.parametrize("extras", [
    {},
    {"objective.loss": "wasserstein", "objective.gradient_penalty": 1.0, "generator.ema": 0.9,
     "discriminator.spectral_norm": True},
    # the first run's final evaluation recomputes the EMA copy's batch-norm statistics: with dropout
    # on in that pass it drew from torch's global RNG, and training after the resume took other masks
    {"generator.backbone.norm": "batch", "generator.backbone.dropout": 0.3, "generator.ema": 0.9},
])
def test_resume_is_exact(tmp_path, extras):
    """20 + 20 steps with a checkpoint between them equal 40 steps in one go: both players,
    both optimizers (Adam moments), the EMA copy, the data and noise streams. The first part is a
    finished run of 20 steps (its final evaluation included), extended to 40 by --resume."""
    extras = {"perf.steps_per_unit": 10, "objective.r1": 0.1, **extras}
    cfg = config(tmp_path / "straight", steps=40, **extras)
    straight = GANExperiment(cfg)
    Runner(cfg, straight).run()

    cfg_a = config(tmp_path / "split", steps=20, **extras)
    Runner(cfg_a, GANExperiment(cfg_a)).run()
    (run_dir,) = (tmp_path / "split" / "gan_test").iterdir()
    cfg_b = config(tmp_path / "split", steps=40, **extras)
    resumed = GANExperiment(cfg_b)
    Runner(cfg_b, resumed, resume_dir=run_dir).run()

    a, b = straight.state_dict(), resumed.state_dict()
    assert b["global_step"] == 40
    for key in ("generator", "discriminator") + (("ema",) if "generator.ema" in extras else ()):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name}"
    for key in ("opt_g", "opt_d"):
        for pid, s in a[key]["state"].items():
            assert torch.equal(s["exp_avg_sq"], b[key]["state"][pid]["exp_avg_sq"]), f"{key}[{pid}]"


def test_metrics_and_picture_are_logged(tmp_path):
    summary = api.train(config(tmp_path, source="ring8", steps=20, **{"eval.pictures": True})).summary
    rows = [json.loads(line) for line in open(f"{summary['run_dir']}/metrics.jsonl")]
    train = [r for r in rows if "gan/loss_d" in r]
    evals = [r for r in rows if "eval/modes_covered" in r]
    assert train and evals
    assert evals[-1]["eval/samples"]["_type"] == "image"
    assert (tmp_path / "gan_test").glob("*/media/samples_step_00000020.png")
    assert 0.0 <= evals[-1]["eval/high_quality"] <= 1.0


@pytest.mark.slow
def test_ring8_covers_at_least_7_modes(tmp_path):
    summary = api.train("configs/gan_ring8.yaml", [f"logging.dir={tmp_path}", "logging.console=false",
                                                   "train.progress=false", "logging.wandb.mode=disabled",
                                                   "eval.pictures=false", "device=cpu", "train.total_steps=2500",
                                                   "train.eval_every=2500"]).summary
    assert summary["final"]["eval/modes_covered"] >= 7


@pytest.mark.slow
def test_digits_dcgan_frechet_falls_and_best_checkpoint_holds_it(tmp_path):
    """The shipped DCGAN on half of its 10k steps: the Fréchet classifier distance falls below 10
    (seed 0: 130.6 at 1k steps, 6.1 at 5k, 2.7 at 10k; an untrained G is in the hundreds), and
    checkpoints/best/ holds the best evaluation's generator: loaded back, it scores the same."""
    summary = api.train("configs/gan_digits_dcgan.yaml", [
        f"logging.dir={tmp_path}", "logging.console=false", "train.progress=false", "logging.wandb.mode=disabled",
        "eval.pictures=false", "device=cpu", "train.total_steps=5000", "train.eval_every=2500"]).summary
    best = summary["best"]
    assert best["metric"] == "eval/frechet" and best["value"] < 10.0
    loaded = api.load_run(Path(summary["run_dir"]) / "checkpoints" / "best")
    assert loaded.experiment.global_step == best["global_step"]
    assert loaded.evaluate()["eval/frechet"] == pytest.approx(best["value"], rel=1e-4)


def test_check_reports_mismatches():
    raw = {"name": "x", "kind": "gan", "data": {"source": "ring8"}, "train": {"total_steps": 1},
           "generator": {"backbone": {"type": "lstm"}}, "discriminator": {"backbone": {"type": "cnn"}},
           "objective": {"conditional": "projection"}}
    problems = GANExperiment.check(load_config(raw, [], kinds={"gan": GANConfig}))
    text = "\n".join(problems)
    assert "objective.conditional" in text and "generator.backbone.type" in text and "'cnn' is for images" in text
    raw["data"]["source"] = "rign8"  # an unknown source is a schema error, reported with the others
    raw["objective"]["n_critic"] = 0
    with pytest.raises(ConfigError) as e:
        load_config(raw, [], kinds={"gan": GANConfig})
    assert len(e.value.problems) == 2 and "data.source: unknown data source 'rign8' (did you mean 'ring8'?)" in str(e.value)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_autocast_precisions_train(tmp_path, precision):
    cfg = config(tmp_path, source="ring8", steps=20, **{"perf.precision": precision})
    exp = GANExperiment(cfg)
    summary = Runner(cfg, exp).run()
    assert summary["status"] == "completed" and np.isfinite(summary["final"]["eval/mmd"])
    assert (exp.scalers["d"] is not None) == (precision == "fp16")  # loss scaling only for fp16


def test_compile_wraps_both_players(tmp_path, monkeypatch):
    """perf.compile goes through torch.compile (inductor takes minutes on this CPU, so the test uses
    dynamo's eager backend: the same graph capture, no code generation)."""
    calls = []
    real_compile = torch.compile

    def eager_compile(module, **kwargs):
        calls.append(type(module).__name__)
        return real_compile(module, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    summary = api.train(config(tmp_path, source="ring8", steps=10, **{"perf.compile": True})).summary
    assert calls == ["Generator", "Discriminator"] and summary["status"] == "completed"


def test_top_k_share_falls_linearly(tmp_path):
    exp = GANExperiment(config(tmp_path, steps=100, **{"objective.top_k": 0.25}))
    shares = []
    for step in (0, 50, 100):
        exp.global_step = step
        shares.append(exp._top_k(64))
    assert shares == [64, 40, 16]  # 64 * (1 - t * 0.75)


def test_a_linear_schedule_moves_the_lr_at_every_generator_step(tmp_path):
    """lr * (1 - t / total_steps) at generator step t and its discriminator steps, as the plain loop
    of benchmarks/gan_ring.py sets it; before, it was set once per unit (still 1e-3 at step 3 of 4)."""
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    schedule = {f"{p}.optim.schedule": "linear" for p in ("generator", "discriminator")}
    cfg = config(tmp_path, source="ring8", steps=4, **schedule, **{"perf.steps_per_unit": 4, "objective.n_critic": 2})
    exp = GANExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    seen = []

    def recorded(player, step, opt):
        def call():
            seen.append((player, opt.param_groups[0]["lr"]))  # the lr this step takes
            return step()
        return call

    exp._d_step, exp._g_step = recorded("d", exp._d_step, exp.opt_d), recorded("g", exp._g_step, exp.opt_g)
    row = exp.train_unit()
    lrs = [1e-3 * (1 - t / 4) for t in range(4)]
    assert seen == [(player, lr) for lr in lrs for player in ("d", "d", "g")]
    assert row["gan/lr_g"] == row["gan/lr_d"] == lrs[-1]  # the unit's last step's


@pytest.mark.parametrize("penalty", ["objective.r1", "objective.gradient_penalty"])
def test_compile_with_a_double_backward_penalty_trains(tmp_path, monkeypatch, penalty):
    """R1 and the gradient penalty differentiate D twice, which torch.compile's AOT autograd
    refuses ("does not currently support double backward"); those forwards run eagerly. The
    aot_eager backend goes through AOT autograd as inductor does, without its code generation."""
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module, **kw: real_compile(module, backend="aot_eager"))
    cfg = config(tmp_path, source="ring8", steps=10, **{"perf.compile": True, "perf.steps_per_unit": 5, penalty: 1.0})
    summary = Runner(cfg, GANExperiment(cfg)).run()
    assert summary["status"] == "completed" and np.isfinite(summary["final"]["eval/mmd"])


@pytest.mark.parametrize("penalty", ["objective.r1", "objective.gradient_penalty"])
def test_a_transformer_discriminator_takes_a_double_backward_penalty(tmp_path, penalty):
    """torch's fused CPU attention has no derivative of its backward; the penalty's forwards take
    the math kernel."""
    cfg = config(tmp_path, source="sine", steps=4, **{"perf.steps_per_unit": 2, penalty: 1.0,
                                                       "discriminator.backbone": "{type: transformer, d_model: 16}"})
    summary = Runner(cfg, GANExperiment(cfg)).run()
    assert summary["status"] == "completed" and np.isfinite(summary["final"]["eval/mmd"])


@pytest.mark.parametrize("fault, at, says", [
    ("shape", 8, "sample(8, rng) gave an array of shape (8, 3), not (8, *shape) = (8, 2)"),
    ("float64", None, "samples are float64, not float32"),
    ("init", None, "could not be built: ValueError: no such file: data.csv"),
    # the evaluator's reference set is drawn (and checked) in setup, before the first training batch
    ("sample", None, "sample(100, rng) raised ValueError: boom"),
    ("sample", 8, "sample(8, rng) raised ValueError: boom"),
    ("nan", None, "a sample holds NaN or infinity"),
    ("labels", None, "has 3 classes, so labels run from 0 to 2; it gave labels from 7 to 7"),
])
def test_a_source_that_breaks_its_contract_is_one_line_and_no_run(tmp_path, capsys, fault, at, says):
    from rlgen.cli import main

    assert main(["train", "gan_ring8", "data.source=tests.broken_source:BrokenSource",
                 f"data.kwargs={{fault: {fault}, at: {'null' if at is None else at}}}", "objective.batch_size=8",
                 "eval.samples=100", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                 "train.progress=false"]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_source_whose_data_turns_nan_mid_run_is_named_not_called_a_divergence(tmp_path, capsys):
    from rlgen.cli import main

    # draw 1: the evaluator's reference set; 2: the first batch, checked; 3 on: training batches
    assert main(["train", "gan_ring8", "data.source=tests.broken_source:BrokenSource",
                 "data.kwargs={fault: nan, after: 4}", "objective.batch_size=8", "eval.samples=100",
                 "train.total_steps=20", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                 "train.progress=false"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "'tests.broken_source:BrokenSource': a sample holds NaN or infinity (a batch drawn during training" in err
    assert "diverged" not in err and "Traceback" not in err


@pytest.mark.parametrize("fault, says", [
    ("labels", " has 3 classes, so labels run from 0 to 2; it gave labels from 7 to 7"),
    ("float64", ": samples are float64, not float32 (cast them in sample())"),
    ("shape", ": sample(8, rng) gave an array of shape (8, 3), not (8, *shape) = (8, 2)"),
], ids=["labels", "float64", "shape"])
def test_a_source_whose_batches_change_mid_run_is_one_line_and_a_failed_run(tmp_path, capsys, fault, says):
    """Every batch is held to the source's declaration, not only the first: labels out of range
    or another dtype or shape part way stop the run naming the source, not with torch's error."""
    from rlgen.cli import main

    # draw 1: the evaluator's reference set; 2: the first batch; the 30th draw breaks, in the third unit
    assert main(["train", "gan_ring8", "data.source=tests.broken_source:BrokenSource",
                 f"data.kwargs={{fault: {fault}, after: 30, n_classes: 3}}", "objective.conditional=projection",
                 "objective.batch_size=8", "eval.samples=100", "train.total_steps=40", "perf.steps_per_unit=10",
                 f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.progress=false"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: data source 'tests.broken_source:BrokenSource'{says} (a batch drawn during training, not the " \
           "first: what the source's sample() gives changes part way)" in err
    assert "Traceback" not in err
    (summary,) = tmp_path.glob("gan_ring8/*/summary.json")  # units trained: the run is kept, as failed
    assert json.loads(summary.read_text())["status"] == "failed"


@pytest.mark.parametrize("player", ["generator", "discriminator"])
def test_a_transformer_shorter_than_the_sequences_names_its_player_and_no_run(tmp_path, capsys, player):
    from rlgen.cli import main

    # both players are transformers: the section path says which one to fix, before the first step
    assert main(["train", "gan_sine_transformer", "data.kwargs.length=50", f"{player}.backbone.max_len=10",
                 f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.progress=false"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {player}.backbone: transformer backbone: sequence of 50 steps is longer than max_len 10 — " \
           "set backbone.max_len >= 50" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_class_n_classes_is_a_default_its_kwargs_change_not_a_declaration(tmp_path, capsys):
    """Labels are judged when the config loads only from a declared `labeled`; a class attribute
    `n_classes = 0` refused data.kwargs.n_classes=3 as unlabeled before."""
    from rlgen.cli import main

    labeled = config(tmp_path, source="tests.agents.gan.sources:Classes", steps=4,
                     **{"data.kwargs": "{n_classes: 3}", "objective.conditional": "concat", "perf.steps_per_unit": 2})
    assert GANExperiment.check(labeled) == []
    assert Runner(labeled, GANExperiment(labeled)).run()["status"] == "completed"
    # built without classes: refused once built, one line, before any run directory
    assert main(["train", "gan_ring8", "data.source=tests.agents.gan.sources:Classes", "data.kwargs={}",
                 "objective.conditional=concat", "eval.samples=50", f"logging.dir={tmp_path / 'none'}",
                 "logging.wandb.mode=disabled", "train.progress=false"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "objective.conditional: 'tests.agents.gan.sources:Classes' has no labels" in err and "Traceback" not in err
    assert not (tmp_path / "none").exists() or list((tmp_path / "none").iterdir()) == []


def test_batch_norm_with_batches_of_one_is_refused(tmp_path):
    cfg = config(tmp_path, source="ring8", **{"objective.batch_size": 1, "generator.backbone.norm": "batch"})
    assert GANExperiment.check(cfg) == ["generator.backbone.norm: batch norm needs batches of 2 or more; "
                                        "objective.batch_size is 1 (raise it, or use norm: layer)"]


def test_batch_norm_with_batches_of_one_is_refused_for_a_source_that_declares_nothing(tmp_path):
    """Batch size is not the source's business: refused when the config loads, whatever the source
    declares, and not blamed on the source."""
    cfg = config(tmp_path, source="tests.agents.gan.sources:undeclared",
                 **{"objective.batch_size": 1, "generator.backbone.norm": "batch"})
    problems = GANExperiment.check(cfg)
    assert problems == ["generator.backbone.norm: batch norm needs batches of 2 or more; "
                        "objective.batch_size is 1 (raise it, or use norm: layer)"]


@pytest.mark.parametrize("generator", ["{type: mlp, hidden: [8]", "{type: cnn, channels: [8]"])
def test_freezing_a_generator_that_is_all_backbone_is_one_line_and_no_run(tmp_path, capsys, generator):
    """An mlp or cnn generator is its decoder whole: frozen, nothing would train (torch's 'optimizer
    got an empty parameter list'). Refused when the config loads, before the source run is read."""
    from rlgen.cli import main

    source = "gan_digits_dcgan" if "cnn" in generator else "gan_ring8"
    assert main(["train", source, f"generator.backbone={generator}, init: {{run: nowhere, role: generator, "
                 "freeze: true}}", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                 "train.progress=false"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "generator.backbone.init.freeze:" in err and "nothing to train" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_frozen_sequence_generator_keeps_its_head_to_train(tmp_path):
    frozen = "generator.backbone.init={run: nowhere, role: generator, freeze: true}"
    cfg = load_config("configs/gan_sine_lstm.yaml", [frozen], kinds={"gan": GANConfig})
    assert GANExperiment.check(cfg) == []


def test_a_perfect_conditional_generator_scores_like_fresh_real_data(tmp_path):
    """Known answer on an imbalanced source (90% label 0): a generator that draws from the source
    itself given the labels it is asked for matches the data, so its MMD and diversity ratio are
    those of a fresh real sample. Balanced labels (a 50/50 mix against 90/10) gave MMD ~0.8; pairs
    (i, i + N/2) of labels i % 2 are one class each, so the spread read as mode collapse (0.16)."""
    from torch import nn

    from rlgen.agents.gan import metrics
    from rlgen.agents.gan.evaluation import Evaluator
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger
    from tests.agents.gan.sources import Clusters

    cfg = config(tmp_path, source="tests.agents.gan.sources:Clusters", **{"objective.conditional": "concat"})
    exp = GANExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    source = Clusters()

    class Perfect(nn.Module):
        def noise(self, batch, generator=None, device=None):
            return torch.zeros(batch, 1)

        def forward(self, z, y):  # one chunk of eval.samples: the same draw at every evaluation
            return torch.from_numpy(source.draw(y.numpy(), np.random.default_rng(5)))

    exp.sampler = Perfect
    scores = exp.evaluate()
    fresh, _ = source.sample(cfg.eval.samples, np.random.default_rng(7))
    reference = Evaluator(cfg, source, "points", cfg.seed).real
    fresh_mmd = metrics.mmd2(fresh, reference)
    assert scores["eval/mmd"] < 2 * fresh_mmd + 0.01, (scores["eval/mmd"], fresh_mmd)
    assert 0.8 < scores["eval/diversity_ratio"] < 1.25
    assert scores["eval/collapse_warning"] == 0.0
    assert scores == exp.evaluate()  # evaluation stays deterministic


def test_a_gpu_noise_stream_is_not_forced_onto_the_cpu(tmp_path):
    """A checkpoint from a CUDA run holds a Philox generator state, which a CPU generator cannot
    take: loading it on the CPU (rlgen.load_run's default) keeps the weights and skips the stream.
    A CUDA generator cannot be made here, so its 16-byte state (seed, offset) is written by hand."""
    cfg = config(tmp_path, source="ring8", steps=10, **{"perf.steps_per_unit": 5})
    trained = GANExperiment(cfg)
    Runner(cfg, trained).run()
    state = trained.state_dict()
    assert state["noise_gen_device"] == "cpu"
    with pytest.raises(RuntimeError):  # what set_state does with a CUDA state on a CPU generator
        torch.Generator().set_state(torch.zeros(16, dtype=torch.uint8))
    state.update(noise_gen=torch.zeros(16, dtype=torch.uint8), noise_gen_device="cuda")
    cfg2 = config(tmp_path / "b", source="ring8", steps=10, **{"perf.steps_per_unit": 5})
    loaded = GANExperiment(cfg2)
    Runner(cfg2, loaded).run()
    loaded.load_state_dict(state)
    for name, t in trained.G.state_dict().items():
        assert torch.equal(t, loaded.G.state_dict()[name])
    assert loaded.global_step == 10


def test_compile_mode_reaches_torch_compile_and_graph_steps_are_marked(tmp_path, monkeypatch):
    """reduce-overhead replays CUDA graphs, whose outputs the next replay overwrites: every player
    step begins a new graph step (torch.compiler.cudagraph_mark_step_begin)."""
    modes, marks = [], []
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m, mode=None, **kw: (modes.append(mode), real_compile(m, backend="eager"))[1])
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    cfg = config(tmp_path, source="ring8", steps=10, **{"perf.compile": True, "perf.compile_mode": "reduce-overhead",
                                                         "perf.steps_per_unit": 5, "objective.n_critic": 2})
    assert Runner(cfg, GANExperiment(cfg)).run()["status"] == "completed"
    assert modes == ["reduce-overhead", "reduce-overhead"] and len(marks) == 10 * (2 + 1)


def test_honours_the_experiment_protocol():
    """rlgen's own checker: checkpoint, one more unit == resume + that unit, bit for bit."""
    overrides = [*smoke_overrides(config_path("gan_ring8")), "perf.steps_per_unit=5"]
    report = check_experiment("gan", "gan_ring8", overrides)
    assert report.exact and "eval/samples" in report.eval_names  # a picture is a valid eval value


def test_a_conditional_grid_counts_its_labels_while_the_metrics_keep_the_reference_labels(tmp_path, monkeypatch):
    """The picture drew the scored samples, for the reference set's random labels: a grid no one could
    read by label. It draws 0, 1, 2, ... in reading order; the metrics still score the reference labels."""
    from torch import nn

    from rlgen.agents.gan import classifier
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    monkeypatch.setattr(classifier, "train_classifier", lambda x, y: (classifier.DigitsClassifier([4, 4]), 1.0))
    cfg = api.load_config("gan_digits_conditional", ["eval.samples=100", f"eval.classifier_cache={tmp_path}",
                                                     "device=cpu"])
    exp = GANExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    asked: list[np.ndarray] = []

    class Labelled(nn.Module):  # each image filled with its label, so a picture shows which it drew
        def noise(self, batch, generator=None, device=None):
            return torch.zeros(batch, 1)

        def forward(self, z, y):
            asked.append(y.numpy())
            return y.float()[:, None, None, None].expand(-1, 1, 8, 8)

    drawn = []
    exp.sampler = Labelled
    monkeypatch.setattr(exp.evaluator, "picture", lambda fake, *args: drawn.append(fake))
    exp.evaluate()
    assert np.array_equal(asked[0], exp.evaluator.real_labels)  # scored on the data's own labels
    (grid,) = drawn
    assert np.array_equal(grid[:, 0, 0, 0], np.arange(64) % 10)

"""`kind: gan` — a generator and a discriminator on rlgen backbones, trained by the shared runner.

One training unit is `perf.steps_per_unit` generator steps; each is preceded by
`objective.n_critic` discriminator steps. `global_step` counts generator steps. Losses are
accumulated on the device and read once per unit, so the loop never waits on the GPU mid-unit.
"""

from __future__ import annotations

from collections import deque
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rlgen.agents.gan import ddp
from rlgen.agents.gan.classifier import cache_problem
from rlgen.agents.gan.config import GANConfig
from rlgen.agents.gan.evaluation import GRID_SAMPLES, Evaluator
from rlgen.agents.gan.losses import LOSSES
from rlgen.agents.gan.metrics import training_warning
from rlgen.agents.gan.players import EMA, Discriminator, Generator
from rlgen.agents.gan.regularizers import differentiable_twice, gradient_penalty, r1_from_logits
from rlgen.envs.datasets import make_source
from rlgen.envs.source_checks import modality_of, sample_from, shape_problems
from rlgen.errors import RlgenError
from rlgen.experiment import ExperimentBase
from rlgen.logging import console
from rlgen.nets import DECODERS
from rlgen.optim import trained_lr
from rlgen.registry import SOURCES
from rlgen.runner import RunContext


class GANExperiment(ExperimentBase):
    """A generator and a discriminator on rlgen backbones, trained against each other."""

    config_model = GANConfig
    data_parallel = True  # under torchrun the players average their gradients (rlgen.agents.gan.ddp)
    episodic = False  # an evaluation scores eval.samples samples

    def __init__(self, cfg: GANConfig):
        self.cfg = cfg
        self.global_step = 0

    @property
    def prefers_accelerator(self) -> bool:
        return self.cfg.generator.backbone.prefers_accelerator or self.cfg.discriminator.backbone.prefers_accelerator

    @classmethod
    def check(cls, cfg: GANConfig) -> list[str]:
        """Cheap checks beyond the schema: the source fits the players. A builder that declares its
        `modality` and `labeled` is checked now; one that does not, once it is built in setup."""
        builder = SOURCES.get(cfg.data.source)  # the schema checked that it resolves
        # only a declared `labeled`: a class's `n_classes` is a default its instance may change
        # (n_classes from data.kwargs), so setup judges the built source's
        labeled = getattr(builder, "labeled", None)
        labeled = labeled if isinstance(labeled, bool) else None
        # a class that declares its sample shape (a class attribute, not a property) is checked now too
        shape = getattr(builder, "shape", None)
        problems = fit_problems(cfg, modality_of(builder), labeled, shape if isinstance(shape, (tuple, list)) else None)
        return problems + ([cache] if (cache := cache_problem(cfg.eval.classifier_cache)) else [])

    # --- the protocol ---------------------------------------------------------------------------

    def setup(self, ctx: RunContext) -> None:
        cfg, obj = self.cfg, self.cfg.objective
        self.ctx, self.device = ctx, ctx.device
        self.source = make_source(cfg.data.source, **cfg.data.kwargs)
        self._batch_checked = False
        modality = modality_of(self.source)
        # what check() could not judge before the source was built (each problem names its path)
        n_classes = int(getattr(self.source, "n_classes", 0) or 0)  # a count or None: make_source checked it
        if problems := fit_problems(cfg, modality, n_classes > 0, self.source.shape):
            raise RlgenError("; ".join(problems))
        self.n_classes = n_classes if obj.conditional != "none" else 0
        shape = tuple(self.source.shape)
        self.G = Generator(cfg.generator, modality, shape, self.n_classes).to(self.device)
        self.D = Discriminator(cfg.discriminator, modality, shape, self.n_classes, obj.conditional).to(self.device)
        self.distributed = ddp.active()
        if self.distributed:
            ddp.broadcast_module(self.G)
            ddp.broadcast_module(self.D)
        self.ema = EMA(self.G, cfg.generator.ema) if cfg.generator.ema else None
        self.opt_g = cfg.generator.optim.build(self.G.parameters())
        self.opt_d = cfg.discriminator.optim.build(self.D.parameters())
        self.loss = LOSSES[obj.loss]
        # every rank draws its own data and noise; evaluation uses a fixed stream shared by all ranks
        self.rng = np.random.default_rng([ctx.seed, ctx.rank])
        self.noise_gen = torch.Generator(self.device).manual_seed(ctx.seed * 1_000 + ctx.rank)
        self.amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.perf.precision]
        fp16 = cfg.perf.precision == "fp16"
        self.scalers = {p: torch.amp.GradScaler(self.device.type) if fp16 else None for p in ("g", "d")}
        mode = cfg.perf.compile_mode
        self.g_call: nn.Module = torch.compile(self.G, mode=mode) if cfg.perf.compile else self.G
        self.d_call: nn.Module = torch.compile(self.D, mode=mode) if cfg.perf.compile else self.D
        # CUDA-graph trees reuse output memory from one replay to the next: each player step is a new step
        self.graphs = cfg.perf.compile and mode == "reduce-overhead"
        # torch.compile's AOT autograd has no double backward (a RuntimeError at the first
        # backward), so the D forwards that R1 and the gradient penalty differentiate twice run eagerly
        self.d_penalized: nn.Module = self.D
        self.history: dict[str, deque[float]] = {"d": deque(maxlen=20), "g": deque(maxlen=20)}
        self.evaluator = Evaluator(cfg, self.source, modality, ctx.seed)

    def train_unit(self) -> dict[str, float]:
        cfg = self.cfg
        d_sum = torch.zeros((), device=self.device)
        g_sum = torch.zeros((), device=self.device)
        steps = 0
        while steps < cfg.perf.steps_per_unit and self.global_step < cfg.train.total_steps:
            self._set_lrs()  # a schedule moves with every generator step, not in a staircase of units
            for _ in range(cfg.objective.n_critic):
                d_sum += self._d_step()
            g_sum += self._g_step()
            steps += 1
            self.global_step += 1
        if self.distributed:
            for module in (self.G, self.D, *([self.ema.module] if self.ema is not None else [])):
                ddp.sync_buffers(module)
        # the lrs of the unit's last step, of each player's first group that holds weights
        lrs = {"gan/lr_g": trained_lr(self.opt_g), "gan/lr_d": trained_lr(self.opt_d)}
        if not steps:  # called with the budget spent: no loss to average (the runner never does)
            return lrs
        d_loss = float(d_sum) / (steps * cfg.objective.n_critic)  # the one host sync of the unit
        g_loss = float(g_sum) / steps
        self.history["d"].append(d_loss)
        self.history["g"].append(g_loss)
        return {"gan/loss_d": d_loss, "gan/loss_g": g_loss, **lrs}

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, Any]:
        """Score `eval.samples` samples (from the EMA generator when there is one) and draw them."""
        # conditional: the reference samples' labels, so real and fake hold the same class mix
        fake, labels = self.generate(self.cfg.eval.samples, seed=self.cfg.seed + 777, labels=self.evaluator.real_labels)
        out: dict[str, Any] = self.evaluator.score(fake, labels)
        warning = training_warning(self.history["d"], self.history["g"], out.get("eval/diversity_ratio"))
        out["eval/collapse_warning"] = float(warning is not None)
        if self.ctx.rank == 0:
            if warning:
                console.print(f"[yellow]warning:[/] step {self.global_step:,}: {warning}")
            if self.cfg.eval.pictures and self.ctx.training:
                # only the run being trained draws into its media/: evaluating a loaded one (`rlgen eval`,
                # `rlgen.load_run(...).evaluate()`) writes nothing into it, a read-only copy included
                out["eval/samples"] = self.evaluator.picture(self._shown(fake), self.ctx.media_dir, self.global_step)
        return out

    def _shown(self, fake: np.ndarray) -> np.ndarray:
        """What the picture draws: the scored samples (a scatter or curves sets them beside the data,
        same class mix), but a conditional grid draws labels 0, 1, 2, ... in reading order, not the
        reference set's random ones, so that each image is read by its label."""
        if not self.n_classes or self.evaluator.modality != "image":
            return fake
        return self.generate(GRID_SAMPLES, seed=self.cfg.seed + 777)[0]

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "ema": None if self.ema is None else self.ema.module.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scalers": {k: None if s is None else s.state_dict() for k, s in self.scalers.items()},
            "global_step": self.global_step,
            "rng": self.rng.bit_generator.state,
            "noise_gen": self.noise_gen.get_state(),
            "noise_gen_device": self.device.type,
            "history": {k: list(v) for k, v in self.history.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.module.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for k, s in self.scalers.items():
            if s is not None and state["scalers"][k] is not None:
                s.load_state_dict(state["scalers"][k])
        self.global_step = int(state["global_step"])
        self.rng.bit_generator.state = state["rng"]
        # a CUDA generator's state (Philox) does not fit a CPU one (Mersenne Twister): a run trained
        # on a GPU and loaded on the CPU (rlgen.load_run's default) keeps its fresh seeded stream
        if state.get("noise_gen_device", "cpu") == self.device.type:
            self.noise_gen.set_state(state["noise_gen"])
        for k, v in state["history"].items():
            self.history[k].extend(v)

    # Under torchrun every replica draws its own batches and noise. state_dict() is written by rank 0
    # alone, so its streams are rank 0's; the runner gathers these per-rank streams into the
    # checkpoint (rlgen/distributed.py) so that a resumed job does not give every rank rank 0's.
    def rank_state(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "noise_gen": self.noise_gen.get_state()}

    def load_rank_state(self, state: dict[str, Any] | None) -> None:
        """This rank's streams from the checkpoint, or (None: a job of another size) fresh ones."""
        if state is None:
            self.rng = np.random.default_rng([self.ctx.seed, self.ctx.rank, self.global_step])
            self.noise_gen.manual_seed(self.ctx.seed * 1_000 + self.ctx.rank + self.global_step * 7_919)
            return
        self.rng.bit_generator.state = state["rng"]
        self.noise_gen.set_state(state["noise_gen"])

    def divergence_fix(self) -> str | None:
        """The runner's advice when training diverges, in this kind's keys (it has no top-level optim)."""
        return "lower generator.optim.lr and discriminator.optim.lr, or add normalization (spectral_norm, a gradient penalty)"

    def modules(self) -> dict[str, nn.Module]:
        out = {"generator": self.G, "discriminator": self.D}
        if self.ema is not None:
            out["generator_ema"] = self.ema.module
        return out

    def export(self, fmt: str, out_dir: Path) -> list[Path]:
        """`rlgen export`: the generator that samples (the EMA copy when there is one), noise
        (B, *noise_shape) [+ label (B,) int64 when conditional] -> samples (B, *shape)."""
        from rlgen.export import save_module

        if fmt == "sb3":
            raise RlgenError("--format sb3 is for RL agents; a GAN's generator exports with --format onnx or torchscript")
        net = self.sampler()
        inputs = {"noise": net.noise(4, torch.Generator(self.device).manual_seed(0), self.device)}
        if self.n_classes:
            inputs["label"] = torch.arange(4, device=self.device) % self.n_classes
            net = LabelChecked(net, self.n_classes)
        path = out_dir / ("generator.onnx" if fmt == "onnx" else "generator.pt")
        return [save_module(net, inputs, "sample", path, fmt)]

    # --- sampling ------------------------------------------------------------------------------

    STANDING_BATCHES = 16  # x 256 samples: the EMA generator's batch-norm statistics

    def sampler(self) -> nn.Module:
        """The generator that samples: the EMA copy (its batch-norm statistics recomputed from a
        fixed noise stream, so the same weights always sample the same way) when there is one, else G."""
        if self.ema is None:
            return self.G
        gen = torch.Generator(self.device).manual_seed(self.cfg.seed + 778)

        def inputs() -> tuple[Tensor, Tensor | None]:
            z = self.ema.module.noise(256, gen, self.device)
            y = None
            if self.n_classes:
                y = torch.randint(0, self.n_classes, (256,), generator=gen, device=self.device)
            return z, y

        self.ema.standing_stats(inputs, self.STANDING_BATCHES)
        return self.ema.module

    @torch.no_grad()
    def generate(self, n: int, seed: int, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """n samples (and their labels when conditional) from the EMA generator, else G, in eval mode.
        Conditional: for `labels` (n,), by default 0, 1, ..., K-1, 0, 1, ... (a grid of them reads
        by label); evaluate() passes the reference set's labels, to score on the data's class mix."""
        net = self.sampler()
        gen = torch.Generator(self.device).manual_seed(seed)
        if not self.n_classes:
            labels = None
        elif labels is None:
            labels = np.arange(n) % self.n_classes
        was_training = net.training
        net.eval()
        chunks = []
        for start in range(0, n, 1024):
            z = net.noise(min(1024, n - start), gen, self.device)
            y = None if labels is None else torch.as_tensor(labels[start : start + len(z)], device=self.device)
            chunks.append(net(z, y).float().cpu().numpy())
        net.train(was_training)
        return np.concatenate(chunks), labels

    # --- one step of each player ----------------------------------------------------------------

    def _real(self) -> tuple[Tensor, Tensor | None]:
        # a source of one's own breaking its contract (any batch: one that changes part way too) or
        # raising: one line, not torch's error
        x, y = sample_from(self.cfg.data.source, self.source, self.cfg.objective.batch_size, self.rng,
                           first=not self._batch_checked)
        self._batch_checked = True
        x_t = torch.from_numpy(x).to(self.device, non_blocking=True)
        y_t = torch.from_numpy(y).to(self.device, non_blocking=True) if (self.n_classes and y is not None) else None
        return x_t, y_t

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _d_step(self) -> Tensor:
        obj = self.cfg.objective
        if self.graphs:
            torch.compiler.cudagraph_mark_step_begin()
        real, y = self._real()  # fakes get the real batch's labels, so D judges images, not labels
        real.requires_grad_(obj.r1 > 0)  # R1 differentiates D(real) with respect to real
        z = self.G.noise(len(real), self.noise_gen, self.device)
        with self._autocast(), differentiable_twice(obj.r1 > 0 or obj.gradient_penalty > 0):
            with torch.no_grad():
                fake = self.g_call(z, y)
            real_logits = (self.d_penalized if obj.r1 else self.d_call)(real, y).float()
            loss = self.loss.d(real_logits, self.d_call(fake, y).float())
            if obj.gradient_penalty:
                loss = loss + gradient_penalty(lambda v: self.d_penalized(v, y).float(), real, fake, obj.gradient_penalty)
            if obj.r1:
                loss = loss + r1_from_logits(real_logits, real, obj.r1)
        self._step(self.opt_d, loss, self.D, self.scalers["d"])
        return loss.detach()

    def _g_step(self) -> Tensor:
        batch = self.cfg.objective.batch_size
        if self.graphs:
            torch.compiler.cudagraph_mark_step_begin()
        z = self.G.noise(batch, self.noise_gen, self.device)
        y = None
        if self.n_classes:
            y = torch.randint(0, self.n_classes, (batch,), generator=self.noise_gen, device=self.device)
        with self._autocast():
            logits = self.d_call(self.g_call(z, y), y).float()  # (B,)
            if self.cfg.objective.top_k is not None:
                logits = logits.topk(self._top_k(batch)).values  # the fakes D finds most realistic
            loss = self.loss.g(logits)
        self._step(self.opt_g, loss, self.G, self.scalers["g"])
        if self.ema is not None:
            self.ema.update(self.G)
        return loss.detach()

    def _top_k(self, batch: int) -> int:
        """How many of the batch's fakes G learns from: batch at the start, top_k * batch at the end."""
        done = self.global_step / self.cfg.train.total_steps
        return max(1, round(batch * (1.0 - done * (1.0 - self.cfg.objective.top_k))))

    def _step(self, opt: torch.optim.Optimizer, loss: Tensor, module: nn.Module,
              scaler: torch.amp.GradScaler | None) -> None:
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
        else:
            scaler.scale(loss).backward()
        if self.distributed:
            ddp.average_gradients(module)
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)
            scaler.update()

    def _set_lrs(self) -> None:
        """`optim.schedule: linear` decays each player's lr to 0 over train.total_steps, step by step:
        the lr of generator step t (and of its discriminator steps) is lr * (1 - t / total_steps)."""
        left = max(0.0, 1.0 - self.global_step / self.cfg.train.total_steps)
        for opt, ocfg in ((self.opt_g, self.cfg.generator.optim), (self.opt_d, self.cfg.discriminator.optim)):
            for group in opt.param_groups:
                group["lr"] = ocfg.lr_at(left)


class LabelChecked(nn.Module):
    """An exported conditional generator: a label outside 0..K-1 gives NaN samples. TorchScript
    raises for one already (one_hot); an ONNX graph cannot raise, and its OneHot would give the
    sample of no class (or, for -1, of the last) as if it were a real one."""

    def __init__(self, net: nn.Module, n_classes: int):
        super().__init__()
        self.net, self.n_classes = net, n_classes

    def forward(self, noise: Tensor, label: Tensor) -> Tensor:
        sample = self.net(noise, label)
        valid = ((label >= 0) & (label < self.n_classes)).reshape(-1, *([1] * (sample.dim() - 1)))
        return torch.where(valid, sample, torch.full_like(sample, float("nan")))


def fit_problems(cfg: GANConfig, modality: str | None, labeled: bool | None, shape: Any = None) -> list[str]:
    """What does not fit between the data (its modality, whether it has labels, its sample shape)
    and the players; an unknown modality, labeling or shape (None) is not judged."""
    problems, name = [], cfg.data.source
    if modality is not None and shape is not None:
        problems += shape_problems(name, modality, shape)
    g, d = cfg.generator.backbone, cfg.discriminator.backbone
    if cfg.objective.conditional != "none" and labeled is False:
        problems.append(f"objective.conditional: {name!r} has no labels; use conditional: none or a labeled source")
    for where, b in (("generator", g), ("discriminator", d)):
        if getattr(b, "norm", None) == "batch" and cfg.objective.batch_size < 2:
            problems.append(f"{where}.backbone.norm: batch norm needs batches of 2 or more; objective.batch_size is "
                            f"{cfg.objective.batch_size} (raise it, or use norm: layer)")
    if getattr(g, "init", None) is not None and g.init.freeze and g.type in DECODERS:
        # an mlp / cnn generator is its decoder whole, with no head of its own (players.Generator)
        problems.append(f"generator.backbone.init.freeze: the {g.type} generator is all backbone, so freezing it "
                        "leaves the generator nothing to train; use freeze: false (init.lr sets a smaller "
                        "learning rate for it)")
    # rlgen.nets builds a sequence generator with pool: sequence whatever it says; last is the default,
    # which every saved config.yaml carries, so only another value is a setting that would be ignored
    if g.sequence and getattr(g, "pool", None) not in (None, "last", "sequence"):
        problems.append(f"generator.backbone.pool: a {g.type} generator draws one sample step per noise step, "
                        f"so it pools nothing ({g.pool!r} would be ignored); drop pool")
    if modality is None:
        return problems
    fits = "mlp or cnn" if modality == "image" else "mlp"  # what a player of these samples can be
    if g.sequence and modality != "sequence":
        problems.append(f"generator.backbone.type: {g.type!r} draws sequences but {name!r} gives {modality}; use {fits}")
    if d.sequence and modality != "sequence":
        problems.append(f"discriminator.backbone.type: {d.type!r} reads sequences but {name!r} gives {modality}; "
                        f"use {fits}")
    for where, b in (("generator", g), ("discriminator", d)):
        if b.type == "cnn" and modality != "image":
            use = "gru, lstm, transformer or mlp" if modality == "sequence" else "mlp"
            problems.append(f"{where}.backbone.type: 'cnn' is for images, but {name!r} gives {modality}; use {use}")
    if getattr(d, "pool", None) == "sequence":
        problems.append("discriminator.backbone.pool: 'sequence' gives no single judgement; use last or mean")
    return problems

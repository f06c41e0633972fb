"""YAML -> validated, typed config tree, with dotted command-line overrides: the sections every kind
shares (this module), built on what a config value may be (`rlgen.config_values`: `Section`, counts,
seeds, NaN and true/false checks) and the backbone configs (`rlgen.config_backbones`), and reading a
config into them (`rlgen.config_load`). The public names of all three are importable from here, which
is where kinds and plugins import them from.

Loading is two steps. OmegaConf reads the YAML and merges `a.b=c` overrides (so `3e-4` is a float
and interpolations work); pydantic v2 then validates the plain tree against the model of the
config's `kind` with `extra="forbid"`. Every problem is reported at once with its dotted path, and a
misspelt key or choice gets a "did you mean". Kinds register their model with `load_config(...,
kinds=...)`; this module knows the sections every kind shares and nothing about any algorithm.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, PrivateAttr, field_validator, model_validator

# Re-exported: kinds, plugins and the rest of rlgen import these from rlgen.config.
from rlgen.config_backbones import (Activation, BackboneBase, BackboneConfig, CNNBackbone,  # noqa: F401
                                    CustomBackbone, InitConfig, MLPBackbone, Norm, Pool, RNNBackbone,
                                    TransformerBackbone, backbone_union)
from rlgen.config_values import (MAX_COUNT, MAX_SEED, STUDY_NAME, FolderPath, LocalPath, Section,  # noqa: F401
                                 device_problem, finite_numbers, is_study_name, nan_values,
                                 whole_count)
from rlgen.errors import ConfigError, RlgenError  # noqa: F401  (ConfigError: re-exported)


# --- sections every kind shares ---


class OptimConfig(Section):
    """One optimizer; `schedule: linear` decays the learning rate to 0 over the run."""

    type: Literal["sgd", "adam", "adamw", "rmsprop", "adagrad"] = "adam"
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0, description="L2: the torch optimizer's own weight_decay")
    l1: float = Field(0.0, ge=0, description="L1: l1 * sign(w) added to every gradient (rlgen/optim.py)")
    # torch's own range for each beta, checked here so that the error names optim.betas
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] | None = Field(
        None, description="adam/adamw only: each in [0, 1)")
    momentum: float = Field(0.0, ge=0, description="sgd/rmsprop only")
    eps: float | None = Field(None, gt=0)
    fused: bool = Field(False, description="torch's fused step (adam, adamw, sgd, adagrad): one kernel for all "
                        "parameters instead of a loop over them; the same update up to float rounding")
    schedule: Literal["constant", "linear"] = "constant"

    _TORCH: ClassVar[dict[str, str]] = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                                        "adagrad": "Adagrad"}

    @model_validator(mode="after")
    def _fits_type(self) -> OptimConfig:
        # checked when the config loads, so the error carries the section's full path
        if self.betas is not None and self.type not in ("adam", "adamw"):
            raise ValueError(f"betas are only for adam/adamw, not {self.type!r}; drop betas or change type")
        if self.momentum and self.type not in ("sgd", "rmsprop"):
            raise ValueError(f"momentum is only for sgd/rmsprop, not {self.type!r}; drop momentum or change type")
        if self.fused and self.type == "rmsprop":
            raise ValueError("torch's RMSprop has no fused step; drop fused or change type")
        return self

    @property
    def torch_class(self) -> type:
        import torch

        return getattr(torch.optim, self._TORCH[self.type])

    def torch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the torch optimizer class, without `lr`."""
        kwargs: dict[str, Any] = {"weight_decay": self.weight_decay}
        if self.betas is not None:
            kwargs["betas"] = tuple(self.betas)
        if self.momentum:
            kwargs["momentum"] = self.momentum
        if self.eps is not None:
            kwargs["eps"] = self.eps
        if self.fused:
            kwargs["fused"] = True
        return kwargs

    def build(self, params: Any) -> Any:
        """The torch optimizer over the trainable `params` at the initial learning rate, with `l1`
        and transferred backbones' own learning rates (rlgen/optim.py)."""
        from rlgen.optim import param_groups, prepare

        return prepare(self.torch_class(param_groups(params, self.lr), lr=self.lr, **self.torch_kwargs()), self.l1)

    def lr_at(self, progress_remaining: float) -> float:
        """The learning rate with `progress_remaining` of the run left (1 -> 0)."""
        return self.lr * (progress_remaining if self.schedule == "linear" else 1.0)


class EarlyStopConfig(Section):
    metric: str = "eval/return_mean"
    mode: Literal["max", "min"] = "max"
    target: float | None = Field(None, description="stop once the metric reaches this value")
    patience: int | None = Field(None, gt=0, description="stop after this many evals with no improvement")
    min_delta: float = Field(0.0, ge=0, description="an evaluation improves on the best value seen only when "
                             "better by more than this (Keras's and Lightning's min_delta): smaller gains count "
                             "toward patience and keep the best checkpoint where it is")
    best_tolerance: float = Field(0.0, ge=0, description="a later evaluation within this much of the best value "
                                  "seen takes over as the best checkpoint: noisy evaluations of an agent that has "
                                  "stopped improving then keep the later one, not an earlier lucky reading")


class TrainConfig(Section):
    total_steps: int = Field(gt=0)
    eval_every: int = Field(10_000, gt=0)
    eval_episodes: int = Field(10, gt=0, le=MAX_COUNT)
    checkpoint_every: int | None = Field(None, gt=0, description="default: eval_every")
    keep_checkpoints: int = Field(3, gt=0)
    early_stop: EarlyStopConfig = EarlyStopConfig()
    threads: int | None = Field(None, gt=0, description="torch threads; default 1 on CPU for small nets")
    progress: bool = True
    video_every: int | None = Field(None, gt=0, description="every N-th evaluation also records one episode, "
                                    "logged as eval/video (kinds that can film one: rl)")


# The characters W&B refuses in a project name (wandb.Settings.validate_project): a run given one
# trains without W&B, which only warns
WANDB_PROJECT_REFUSED = "/\\#?%:"


def _some_tag(tag: str) -> str:
    if not tag.strip():  # W&B refuses an empty tag when the run starts (wandb.Settings.validate_run_tags)
        raise ValueError(f"{tag!r} is an empty or blank tag, which W&B refuses or shows as none; give it text or "
                         "drop it from the list")
    return tag


class WandbConfig(Section):
    mode: Literal["online", "offline", "disabled"] = "offline"
    # W&B's limits: a run whose project, name or group is over 128 characters, or a tag over 64 (or
    # empty), fails to start
    project: str = Field("rlgen", max_length=128)
    entity: str | None = None
    group: str | None = Field(None, max_length=128,
                              description="default: the config name and what differs from its bundled config")
    tags: list[Annotated[str, Field(max_length=64), AfterValidator(_some_tag)]] = []
    name: str | None = Field(None, max_length=128,
                             description="run name; default: e.g. 'ppo_cartpole lr=3e-4 s1' (rlgen/identity.py)")
    log_model: bool = Field(True, description="final and best checkpoints as W&B model artifacts (latest, best)")
    save_code: bool = Field(True, description="W&B saves the main program's code")
    system_metrics: bool = Field(True, description="W&B samples CPU, GPU, memory, disk and network")
    capture_console: bool = Field(True, description="W&B keeps the run's console output")
    watch: Literal["gradients", "parameters", "all"] | None = Field(
        None, description="wandb.watch the kind's torch modules: histograms of gradients and/or weights")
    watch_every: int = Field(1000, gt=0, description="wandb.watch log_freq, in backward passes")
    init_timeout: float = Field(15.0, gt=0, description="seconds W&B may take to start (online: to reach its "
                                "server) before training goes on without it")

    @field_validator("project")
    @classmethod
    def _project_wandb_takes(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a W&B project, e.g. rlgen")
        refused = "".join(c for c in WANDB_PROJECT_REFUSED if c in v)
        if not refused:
            return v
        entity, _, project = v.partition("/")
        if refused == "/" and v.count("/") == 1 and entity.strip() and project.strip():  # W&B's path form
            fix = f"for entity/project, set logging.wandb.entity={entity} and logging.wandb.project={project}"
        else:
            fix = "use another name, e.g. " + repr("".join("-" if c in refused else c for c in v))
        raise ValueError(f"{v!r} holds {', '.join(map(repr, refused))}, which W&B refuses in a project name "
                         f"(any of {' '.join(WANDB_PROJECT_REFUSED)}); {fix}")


class LoggingConfig(Section):
    dir: str = Field("runs", description="runs go to <dir>/<name>/<id>; `.` for the current folder")
    console: bool = True
    wandb: WandbConfig = WandbConfig()

    @field_validator("dir")
    @classmethod
    def _some_folder(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a folder (runs go to <dir>/<name>/<id>), e.g. runs, or . for the current one")
        return v


class NormalizeConfig(Section):
    """Running mean/std normalization of observations and returns (SB3 VecNormalize)."""

    obs: bool = True
    reward: bool = True
    clip_obs: float = Field(10.0, gt=0, allow_inf_nan=True, description="inf = no clipping")
    clip_reward: float = Field(10.0, gt=0, allow_inf_nan=True, description="inf = no clipping")
    freeze_after: int | None = Field(
        None, ge=0, description="update the running statistics (observations and returns) over the first N env "
        "steps of training, then keep them: from the first training unit that starts at or after N; null = always")


# Every observation, buffer row and forward pass holds the whole window (an lstm steps through it, a
# transformer attends over T x T): 1e9 steps failed as a MemoryError, 100,000 never ended its first
# unit; memory tasks need hundreds (CueRecall remembers `delay` steps with delay + 1).
MAX_HISTORY = 10_000


class HistoryConfig(Section):
    """Observe a window of the episode's last `length` steps, so a memoryless algorithm can
    remember (agents/rl/history.py)."""

    length: int = Field(gt=0, le=MAX_HISTORY, description="steps in the window, at most 10,000; a task remembering N "
                        "steps back needs N + 1")
    actions: bool = Field(False, description="each step also shows the previous action")
    rewards: bool = Field(False, description="each step also shows the previous reward")


def _known_wrapper(spec: Any) -> Any:
    from rlgen.envs import resolve_wrapper

    try:
        resolve_wrapper(spec)
    except RlgenError as e:
        raise ValueError(str(e)) from None
    return spec


class EnvConfig(Section):
    """A gymnasium env id, how many copies run side by side, and what wraps them."""

    id: str
    n_envs: int = Field(1, gt=0, le=MAX_COUNT)
    vectorize: Literal["dummy", "subproc"] = Field("dummy", description="subproc = one process per env")
    kwargs: dict[str, Any] = Field({}, description="passed to gymnasium.make")
    wrappers: list[Annotated[str | dict[str, dict[str, Any]], AfterValidator(_known_wrapper)]] = Field(
        [], description="wrappers by gymnasium class name, registered name or import path, applied in order: "
        "[Name, {Name: {arg: v}}]"
    )
    frame_stack: int = Field(0, ge=0, description="stack the last N observations (0 = off)")
    normalize: NormalizeConfig | None = None
    history: HistoryConfig | None = Field(None, description="a window of past steps as the observation")

    @field_validator("id")
    @classmethod
    def _known_id(cls, env_id: str) -> str:
        from rlgen.envs import check_env_id

        if (problem := check_env_id(env_id)) is not None:
            raise ValueError(problem)
        return env_id

    @model_validator(mode="after")
    def _one_memory(self) -> EnvConfig:
        if self.frame_stack and self.history is not None:
            raise ValueError("frame_stack and history both stack past observations; use one")
        return self


class ExperimentConfig(Section):
    """What every experiment kind has; kinds subclass it and add their own sections."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: str
    seed: int = Field(0, ge=0, le=MAX_SEED, description="0 to 4,294,967,295 (numpy's range, which SB3 seeds with)")
    device: str = "auto"
    train: TrainConfig
    logging: LoggingConfig = LoggingConfig()

    # train.early_stop's metric and mode when a config names no metric: one its kind always logs
    # (a GAN's eval/mmd, not an RL agent's eval/return_mean), so the best checkpoint and the seeds
    # table work without one
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/return_mean", "max")

    # The config this one came from, for its W&B name (rlgen/identity.py): a file of the user's own
    # read without the command line's overrides (`rlgen.load_config` sets it); None: found by `name`.
    # Private, so no dump, config.yaml or schema holds it.
    _base: ExperimentConfig | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _kind_early_stop(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        train = {} if data.get("train") is None else data["train"]
        if not isinstance(train, dict):  # not a mapping: the schema says so, in one line, as for any other section
            return data
        stop = train.get("early_stop", {})
        if stop is None:
            stop = {}
        if not isinstance(stop, dict) or "metric" in stop:
            return data
        metric, mode = cls.early_stop_default
        return {**data, "train": {**train, "early_stop": {"metric": metric, "mode": mode, **stop}}}

    @field_validator("name")
    @classmethod
    def _not_a_parent(cls, v: str) -> str:
        if not v.strip("."):  # `.` and `..` would put the run beside or above logging.dir, not in it
            raise ValueError(f"{v!r} is only dots, which would put the run outside logging.dir (runs go to "
                             "<logging.dir>/<name>/<id>); give a name with a letter or digit")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if (problem := device_problem(v)) is not None:
            raise ValueError(problem)
        return v

    def tags(self) -> list[str]:
        """W&B tags describing the run; kinds add theirs (agent, env, backbone)."""
        return [self.kind]


# Reading a config (YAML, overrides, interpolation, one line per problem) lives in rlgen.config_load,
# which builds on the models above; its public names are importable from here as well.
from rlgen.config_load import (_describe, _override, check_overrides,  # noqa: E402
                               config_tree, interpolates, load_config, save_config)

__all__ = ["load_config", "save_config", "check_overrides", "config_tree"]

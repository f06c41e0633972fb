"""Where rlgen meets SB3, for every kind built on it (rl, selfplay, teams): rlgen backbones as
features extractors, rlgen's policy and optim sections as `policy_kwargs`, one SB3 model driven one
training unit at a time with run-long schedules, and SB3's logger into rlgen's metrics."""

from __future__ import annotations

import inspect
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger as SB3Logger
from stable_baselines3.common.noise import ActionNoise, VectorizedActionNoise
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, is_image_space
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv

from rlgen import plain
from rlgen.agents.rl import live_state
from rlgen.agents.rl.build_checks import action_space_problem, replay_buffer_problem
# integral_counts: re-exported for users (its user here, resolve_schedules, moved to sb3_schedules)
from rlgen.agents.rl.algos import integral_counts, one_row_batch_problem  # noqa: F401
from rlgen.agents.rl.config import PolicyConfig
# what callers took from here before these parts moved (tests/test_module_names.py) stays importable from
# here, and so does _parameters_but_frozen: a torch.save'd policy with a frozen backbone names it by this path
from rlgen.agents.rl.frozen_targets import _parameters_but_frozen, keep_frozen_out_of_targets  # noqa: F401
from rlgen.agents.rl.sb3_metrics import UNDEFINED_AS_NAN, MetricsOutput  # noqa: F401
from rlgen.agents.rl.sb3_schedules import LearningRate, LinearSchedule, Progress, resolve_schedules  # noqa: F401
from rlgen.agents.rl.vec import outside_space, space_problem
from rlgen.config import OptimConfig
from rlgen.errors import Diverged, RlgenError, first_line
from rlgen.nets import backbone_traits, build_backbone
from rlgen.nets.common import ACTIVATIONS, differentiable_twice, no_distribution_checks
from rlgen.optim import rebuild
from rlgen.registry import BACKBONES
from rlgen.transfer import CHANNEL_LAST_FRAME, apply_init


class BackboneExtractor(BaseFeaturesExtractor):
    """Any rlgen backbone as an SB3 features extractor: (B, *obs_shape) -> (B, features_dim).

    SB3 has already preprocessed the observation (images scaled to [0, 1], discrete one-hot), so
    image spaces keep their (C, H, W) shape and everything else is flattened, except a (T, F) Box
    for a sequence backbone and an (H, W, C) Box of booleans (MinAtar's frames) for a backbone
    that reads images: SB3 hands those over as 0. / 1. floats, and they are transposed to
    (C, H, W) here; any other backbone flattens them channel-last (its `channel_last_frame`, which
    transfer reads to reorder weights learned on channels-first frames). `masked=True` (set for
    `env.history` windows): the last feature of each step is a validity flag, split off and passed
    as `mask` (B, T) to a sequence backbone whose forward takes one (rlgen's gru, lstm and
    transformer); one whose forward does not (a plugin's) reads the flag as its last feature, as
    an mlp reads it in the flattened window.
    """

    def __init__(self, observation_space: gym.Space, backbone: Mapping[str, Any], masked: bool = False):
        channel_last = _boolean_frames(observation_space) and backbone.get("type") == "cnn"
        if isinstance(observation_space, gym.spaces.Box) and is_image_space(observation_space, check_channels=False):
            in_shape = tuple(observation_space.shape)
        elif channel_last:
            h, w, c = observation_space.shape
            in_shape = (c, h, w)
        elif isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 3 \
                and backbone.get("type") == "cnn":
            in_shape = tuple(observation_space.shape)  # planes, not pixels (a board game's): (C, H, W) as given
        elif isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 2 \
                and backbone.get("type") == "cnn" and not masked:
            h, w = observation_space.shape
            raise RlgenError(f"agent.policy.backbone: a cnn reads (C, H, W) frames, but the env observes 2-D frames "
                             f"{(h, w)} with no channel axis; add one (AtariPreprocessing: grayscale_newaxis: true, "
                             "or a gymnasium ReshapeObservation wrapper to (H, W, 1))")
        elif isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 2 \
                and _reads_sequences(backbone):
            steps, features = observation_space.shape  # a window of observations
            masked = masked and _takes_mask(backbone)
            in_shape = (steps, features - 1) if masked else (steps, features)
        elif isinstance(observation_space, (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete,
                                            gym.spaces.MultiBinary)):
            in_shape = (int(get_flattened_obs_dim(observation_space)),)  # np.int64 for MultiDiscrete
        else:
            raise RlgenError(f"observation space {observation_space} is not supported by rlgen backbones; "
                             "flatten it with the FlattenObservation wrapper (env.wrappers: [FlattenObservation])")
        net = build_backbone(backbone, in_shape, where="agent.policy.backbone")
        if _boolean_frames(observation_space) and len(in_shape) == 1:
            # flattened channel-last as they come (what policies trained so far learned on), where the
            # `observations` source and a cnn hold them channels first: said, so transfer can reorder
            setattr(net, CHANNEL_LAST_FRAME, tuple(observation_space.shape))
        super().__init__(observation_space, features_dim=int(net.out_dim))
        self.net = net
        self.channel_last = channel_last
        self.in_shape = in_shape
        self.masked = masked and len(in_shape) == 2  # only sequence backbones read (T, F) windows

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if self.masked:
            x, valid = observations[..., :-1], observations[..., -1] > 0.5  # (B, T, F), (B, T)
            # a full window needs no mask, and the unmasked path is the fast one (no packing); a trace
            # (export) keeps the mask, or it would record the branch its example inputs happen to take
            full = not torch.jit.is_tracing() and bool(valid.all())
            return self.net(x, mask=None if full else valid)
        if self.channel_last:
            return self.net(observations.permute(0, 3, 1, 2))  # (B, H, W, C) -> (B, C, H, W)
        x = observations.reshape(observations.shape[0], *self.in_shape)
        return self.net(x)

    @property
    def backbone(self) -> torch.nn.Module:
        """The rlgen backbone inside (what transfer loads and `rlgen inspect` shows)."""
        return self.net


def _boolean_frames(space: gym.Space) -> bool:
    """An (H, W, C) Box of booleans: MinAtar's observations, read channel-last."""
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3 and space.dtype == np.bool_


def _reads_sequences(backbone: Mapping[str, Any]) -> bool:
    """The network class's `sequence` trait; a spec without a type is left to build_backbone's error."""
    return "type" in backbone and backbone_traits(backbone["type"])[0]


def _takes_mask(backbone: Mapping[str, Any]) -> bool:
    """Whether the backbone class's forward takes `mask`: the README's backbone contract makes it optional."""
    builder = BACKBONES.get(backbone["type"])
    forward = getattr(getattr(builder, "func", builder), "forward", None)  # a partial (gru) binds a class
    return forward is not None and _takes(forward, "mask")


# --- rlgen's policy and optim sections as SB3 policy_kwargs ---------------------------------------

SB3_ON_POLICY_ADAM_EPS = 1e-5  # ActorCriticPolicy's Adam eps when it is given no optimizer_kwargs


def policy_kwargs(pol: PolicyConfig, optim: OptimConfig, policy_cls: type, masked: bool = False) -> dict[str, Any]:
    """SB3 `policy_kwargs` from rlgen's policy and optim sections.

    `masked`: observations are `env.history` windows whose last feature flags real steps.
    """
    kwargs = dict(pol.kwargs)
    if pol.backbone is not None and pol.backbone.type == "lstm" and _takes(policy_cls, "lstm_hidden_size"):
        kwargs.update(_recurrent_lstm_kwargs(pol))  # RecurrentPPO: the LSTM carries its state across steps
    elif pol.backbone is not None:
        kwargs["features_extractor_class"] = BackboneExtractor
        kwargs["features_extractor_kwargs"] = {"backbone": pol.backbone.spec(), "masked": masked}
        if _takes(policy_cls, "share_features_extractor"):
            kwargs["share_features_extractor"] = pol.share_backbone
    if pol.net_arch is not None:
        kwargs["net_arch"] = pol.net_arch
    if pol.activation is not None:
        kwargs["activation_fn"] = ACTIVATIONS[pol.activation]
    # Always explicit: A2C would otherwise swap the configured optimizer for RMSprop.
    kwargs["optimizer_class"] = optim.torch_class
    extra = optim.torch_kwargs()
    if extra.get("weight_decay") == 0:
        del extra["weight_decay"]
    if extra and "eps" not in extra and optim.torch_class is torch.optim.Adam and issubclass(policy_cls, ActorCriticPolicy):
        # SB3 gives on-policy Adam eps=1e-5 only when it gets no optimizer_kwargs at all; kept, so
        # that `fused`, `betas` or `weight_decay` do not also change eps to torch's 1e-8
        extra["eps"] = SB3_ON_POLICY_ADAM_EPS
    if extra:  # otherwise SB3's own defaults stay
        kwargs["optimizer_kwargs"] = extra
    return kwargs


def _recurrent_lstm_kwargs(pol: PolicyConfig) -> dict[str, Any]:
    """An lstm backbone as sb3-contrib's own LSTM: hidden state carried from step to step and reset
    at episode starts, instead of a window of past observations. Size and depth map; share_backbone
    picks one LSTM for actor and critic or one each (sb3-contrib's default). Any other key set is
    refused by the rl kind's check (config.RECURRENT_LSTM_KEYS)."""
    lstm = pol.backbone
    return {"lstm_hidden_size": lstm.hidden_size, "n_lstm_layers": lstm.num_layers,
            "shared_lstm": pol.share_backbone, "enable_critic_lstm": not pol.share_backbone}


def _takes(policy_cls: type | Callable[..., Any], arg: str) -> bool:
    return arg in inspect.signature(policy_cls).parameters


# --- one SB3 model, trained one unit at a time, with run-long schedules ---------------------------


@contextmanager
def gpu_by_choice(chosen: bool) -> Iterator[None]:
    """SB3 warns that PPO and A2C with its MlpPolicy class belong on the CPU (SB3 #1245). rlgen's
    policies are that class with an rlgen backbone inside, so when the backbone asked for the GPU
    (`prefers_accelerator`: a CNN, a Transformer) the advice is wrong and is silenced here; an MLP
    that a config forces onto a GPU keeps it."""
    with warnings.catch_warnings():
        if chosen:
            warnings.filterwarnings("ignore", message=r"You are trying to run \w+ on the GPU", category=UserWarning)
        yield


def scalar_problem(env: VecEnv, pol: PolicyConfig, target: str) -> str | None:
    """A 0-d Box observation under SB3's default extractor, which flattens from the first axis
    after the batch's and so fails at the first update; an rlgen backbone reads it as one feature."""
    obs = env.observation_space
    if pol.backbone is not None or not isinstance(obs, gym.spaces.Box) or obs.shape != ():
        return None
    return (f"{target} observes a 0-d Box ({obs}), which SB3's default feature extractor cannot flatten; give "
            "agent.policy.backbone (e.g. {type: mlp}), or env.wrappers: [{ReshapeObservation: {shape: [1]}}]")


class SB3Learner:
    """One SB3 algorithm built from rlgen's sections and trained one unit at a time.

        learner = SB3Learner(PPO, "MlpPolicy", env, cfg.optim, cfg.agent.policy, cfg.agent.hyperparams,
                             seed=ctx.seed, device=ctx.device, target=f"env {cfg.env.id!r}")
        metrics = learner.learn_unit(learner.rollout_steps, global_step, cfg.train.total_steps)

    The learning rate (`optim.schedule: linear`) and every `lin_<start>` hyperparameter decay over
    the whole run: `learn_unit` sets the run's progress before each `learn()` call. Learners that
    share one schedule (the two sides of `kind: teams`) share one `progress`. SB3's logger writes
    into `output`, under rlgen's metric names.
    """

    def __init__(self, algo: type[BaseAlgorithm], policy: str, env: VecEnv, optim: OptimConfig, pol: PolicyConfig,
                 hyperparams: Mapping[str, Any], *, seed: int, device: torch.device | str,
                 progress: Progress | None = None, masked: bool = False, target: str = "this env",
                 init_at: str = "agent.policy.backbone"):
        self.progress = progress if progress is not None else Progress()
        self.target = target
        self._batches_checked = False  # `one_row_batch_problem`, once, before the first update
        if (problem := space_problem(env, target) or scalar_problem(env, pol, target)
                or action_space_problem(algo, env, target) or replay_buffer_problem(hyperparams)) is not None:
            raise RlgenError(problem)
        try:
            with gpu_by_choice(pol.prefers_accelerator):
                self.model: Any = algo(
                    policy, env, learning_rate=LearningRate(optim, self.progress), seed=seed, device=device, verbose=0,
                    policy_kwargs=policy_kwargs(pol, optim, algo.policy_aliases[policy], masked=masked),
                    **resolve_schedules(hyperparams, self.progress),
                )
        except (AssertionError, ValueError, TypeError, NotImplementedError) as e:  # SB3 checks its arguments with these
            raise RlgenError(f"could not build {algo.__name__} for {target}: {first_line(e)}") from None
        norm = getattr(self.model, "_vec_normalize_env", None)
        if hasattr(self.model, "replay_buffer") and norm is not None and norm.observation_space != env.observation_space:
            # VecNormalize beneath env.history's window: SB3 would store its original, unwindowed
            # observations in the replay buffer; the buffer keeps what the policy sees instead
            # (normalized with the statistics of their step, rewards too)
            self.model._vec_normalize_env = None
        noise = getattr(self.model, "action_noise", None)
        if noise is not None and env.num_envs > 1 and not isinstance(noise, VectorizedActionNoise):
            # what SB3's first learn() would do: one noise per env copy, there from the start, so
            # that the noise state a checkpoint holds has the same shape as a fresh learner's
            self.model.action_noise = VectorizedActionNoise(noise, env.num_envs)
        transfer_and_regularize(self.model, pol, optim, init_at)
        self.output = MetricsOutput()
        self.model.set_logger(SB3Logger(folder=None, output_formats=[self.output]))

    @property
    def rollout_steps(self) -> int:
        """The env steps of one on-policy rollout: n_steps in each copy of the vector env."""
        return int(self.model.n_steps) * self.model.n_envs

    def learn_unit(self, steps: int, run_step: int, total_steps: int) -> dict[str, float]:
        """One training unit: `steps` more env steps of SB3's own `learn()`, continuing the same run
        (`reset_num_timesteps=False` keeps the env state), with the schedules at `run_step` of
        `total_steps`; returns the metrics SB3 dumped meanwhile."""
        self.progress.remaining = max(0.0, 1.0 - run_step / total_steps)
        model = self.model
        if not self._batches_checked:  # here, not in __init__: kind bc never trains SB3
            if (problem := one_row_batch_problem(model)) is not None:
                raise RlgenError(problem)
            self._batches_checked = True
        noise = self.noise_state()
        # TRPO differentiates its policy twice (Hessian-vector products), which torch's fused
        # attention kernels cannot: a transformer backbone's attention takes the plain kernel then
        with no_distribution_checks(), differentiable_twice(type(model).__name__ == "TRPO"):
            try:
                model.learn(steps, callback=_OneRun(self, total_steps, noise),
                            reset_num_timesteps=False, log_interval=1, progress_bar=False)
            except (RuntimeError, ValueError):  # e.g. torch sampling from NaN probabilities
                if (bad := plain.non_finite(dict(model.policy.named_parameters()))) is not None:
                    path, n, of = bad
                    raise Diverged(f"non-finite weights in the policy: {path} ({n:,} of {of:,} elements) at step "
                                   f"{model.num_timesteps:,}: training diverged") from None
                if (problem := self._observation_problem()) is not None:
                    raise RlgenError(problem) from None
                raise
        # On-policy SB3 logs before train(), so this unit's losses would wait for the next unit's
        # dump: flush them now, and a checkpoint never falls between a unit and its losses.
        model.logger.dump(step=model.num_timesteps)
        metrics = self.output.pop()
        if "rollout/ep_return_mean" not in metrics and model.ep_info_buffer:
            # off-policy algorithms dump only every few episodes; the rollout return is always known
            metrics["rollout/ep_return_mean"] = float(np.mean([e["r"] for e in model.ep_info_buffer]))
        return metrics

    def _observation_problem(self) -> str | None:
        """What in the observations a finite policy was about to act on breaks the env's observation
        space (`outside_space`: a shape, a choice past n) or is NaN or inf: the env's (or a
        wrapper's) to fix, which torch otherwise reports from inside the policy ("mat1 and mat2 shapes
        cannot be multiplied", "Class values must be smaller than num_classes", a sampling error from
        NaN logits). make_vec_env's envs refuse the first two as they come; a vector env made
        elsewhere is checked here, after the error."""
        obs = self.model._last_obs
        if obs is None:  # the envs' reset raised before there was an observation: its error is the one to see
            return None
        space = self.model.observation_space
        for row in obs if not isinstance(obs, dict) else ():  # one per env copy
            if (what := outside_space(row, space)) is not None:
                return (f"{self.target} returned {what} by step {self.model.num_timesteps:,}, but its "
                        f"observation_space is {space}; the env must return what its space declares")
        arrays = obs if isinstance(obs, dict) else {"": obs}
        bad = plain.non_finite({k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()})
        if bad is None:
            return None
        _, n, of = bad
        return (f"{self.target} returned a non-finite observation ({n:,} of {of:,} values NaN or inf) by step "
                f"{self.model.num_timesteps:,}, which the policy cannot act on; make its reset() and step() return "
                "finite observations (or fix the wrapper that made them)")

    def noise_state(self) -> list[dict[str, Any]] | None:
        """The action noise of the episodes in progress, one entry per env copy, as plain data
        (`live_state.capture`: Ornstein-Uhlenbeck's last value; Gaussian noise holds none); None
        for a model without action noise."""
        noise = getattr(self.model, "action_noise", None)
        # each noise's attributes, not the noise: live_state leaves callables alone
        return None if noise is None else [live_state.capture(vars(n)) for n in _noise_copies(noise)]

    def load_noise_state(self, state: list[dict[str, Any]] | None) -> list[str]:
        """Write a `noise_state` back; the problems, one line each (another kind or number of noises)."""
        noise = getattr(self.model, "action_noise", None)
        copies = [] if noise is None else _noise_copies(noise)
        if state is None or len(state) != len(copies):
            return [] if state is None and not copies else \
                [f"{len(state or [])} action noise(s) saved, {len(copies)} in this model"]
        return [problem for n, saved in zip(copies, state) for problem in live_state.restore(vars(n), saved)]


def _noise_copies(noise: ActionNoise) -> list[ActionNoise]:
    return list(noise.noises) if isinstance(noise, VectorizedActionNoise) else [noise]


class _OneRun(BaseCallback):
    """Makes a unit's `learn()` call continue the one run, as a single call over the whole run would:
    `on_training_start` runs after SB3's `_setup_learn` and before the first step.

    - SB3 counts progress (`_current_progress_remaining`, which drives DQN's and QR-DQN's
      exploration schedule) against `_total_timesteps`, which `_setup_learn` sets to this call's
      end: epsilon would fall to its final value within the first unit. It is set to the run's
      `train.total_steps` (the call's own loop bound is a local and stays this unit's).
    - `_setup_learn` resets the action noise (`self.action_noise.reset()`), where one call resets
      it only where an episode ends (`OffPolicyAlgorithm.collect_rollouts`): Ornstein-Uhlenbeck
      noise would restart from zero partway through the episodes in progress. It is put back."""

    def __init__(self, learner: SB3Learner, total_steps: int, noise: list[dict[str, Any]] | None):
        super().__init__()
        self.learner, self.total_steps, self.noise = learner, total_steps, noise

    def _on_training_start(self) -> None:
        self.model._total_timesteps = self.total_steps
        if self.noise is not None and (problems := self.learner.load_noise_state(self.noise)):
            raise RuntimeError(f"the action noise could not be put back: {'; '.join(problems)}")  # its own: always fits

    def _on_step(self) -> bool:
        return True


def transfer_and_regularize(model: BaseAlgorithm, pol: PolicyConfig, optim: OptimConfig,
                            init_at: str = "agent.policy.backbone") -> None:
    """`backbone.init` and `optim.l1` on a freshly built SB3 model (`init_at`: the config path
    whose `init` it is, for messages).

    The trained backbone is loaded after SB3 built the policy, so its orthogonal initialisation
    does not overwrite it, into every rlgen extractor of the policy (actor and critic, DQN's
    target network). SB3 builds and steps its optimizers itself, so each is rebuilt over the same
    parameters, without the frozen ones and with `init.lr`'s group, and given rlgen's step pre-hook
    that adds L1 (rlgen/optim.py): it runs inside SB3's `optimizer.step()`, after SB3's gradient
    clipping, so the L1 term is not clipped. A frozen backbone is kept out of the target networks'
    updates too (`keep_frozen_out_of_targets`).
    """
    init = getattr(pol.backbone, "init", None) if pol.backbone is not None else None
    if init is not None:
        extractors = list({id(m): m for m in model.policy.modules() if isinstance(m, BackboneExtractor)}.values())
        if not extractors:
            raise RlgenError(f"{init_at}.init: this policy has no rlgen backbone to load into "
                             "(recurrent_ppo's lstm is sb3-contrib's own); use a window policy (env.history)")
        source_config = apply_init([e.net for e in extractors], init, init_at)
        _warn_raw_observations(model, source_config, init, init_at)
        if init.freeze:
            keep_frozen_out_of_targets(model.policy)
    if init is None and not optim.l1:
        return
    for owner in list(model.policy.modules()):
        if isinstance(getattr(owner, "optimizer", None), torch.optim.Optimizer):
            owner.optimizer = rebuild(owner.optimizer, optim.l1)


def _warn_raw_observations(model: BaseAlgorithm, source_config: Any, init: Any, init_at: str) -> None:
    """A backbone pretrained on the `observations` source (`source_config`, the run it was loaded
    from; None when a checkpoint brings the weights) read raw observations; a policy under
    `env.normalize.obs` reads VecNormalize's standardised ones: said once, when the init loads."""
    from rich.markup import escape
    from stable_baselines3.common.vec_env import unwrap_vec_normalize

    from rlgen.logging import console

    data = getattr(source_config, "data", None)
    if getattr(data, "source", None) != "observations" or model.get_env() is None:
        return
    norm = unwrap_vec_normalize(model.get_env())
    if norm is None or not norm.norm_obs:
        return
    console.print(f"[yellow]warning:[/] {escape(init_at)}.init: {escape(str(init.run))} was pretrained on raw "
                  "`observations`, but env.normalize.obs feeds this policy VecNormalize-standardised ones, so the "
                  "backbone reads inputs on another scale than it learned; set env.normalize.obs: false to keep them "
                  "raw")

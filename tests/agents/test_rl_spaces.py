"""Spaces and backbones `kind: rl` cannot use are one config line (exit 2, no run directory), found
before training: choices not numbered from 0, a backbone that keeps one vector per step, lstm keys
that recurrent_ppo's own LSTM would drop."""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium import spaces

from rlgen.api import load_config, run_config
from rlgen.cli import main
from rlgen.envs import nonzero_start
from rlgen.errors import ConfigError
from tests.envs.games.toy_games import Duel

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
HERE = __name__


class Spaced(gym.Env):
    """Five-step episodes in the given spaces; records every action it is sent."""

    def __init__(self, obs: gym.Space = spaces.Box(-1, 1, (3,), np.float32), act: gym.Space = spaces.Discrete(2)):
        self.observation_space, self.action_space = obs, act
        self.sent: list = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.sent.append(action)
        self.t += 1
        return self.observation_space.sample(), 1.0, self.t >= 5, False, {}


gym.register("rlgen-test/ActsFromOne-v0", entry_point=lambda: Spaced(act=spaces.Discrete(3, start=1)))
gym.register("rlgen-test/ActsMultiFromMinusOne-v0",
             entry_point=lambda: Spaced(act=spaces.MultiDiscrete([3, 2], start=[-1, 0])))
gym.register("rlgen-test/ObservesFromTwo-v0", entry_point=lambda: Spaced(obs=spaces.Discrete(5, start=2)))
gym.register("rlgen-test/ObservesMultiFromFive-v0",
             entry_point=lambda: Spaced(obs=spaces.MultiDiscrete([3, 4], start=[-1, 5])))
gym.register("rlgen-test/ObservesDict-v0",
             entry_point=lambda: Spaced(obs=spaces.Dict({"a": spaces.Box(-1, 1, (2,), np.float32)})))


def rl_yaml(tmp_path: Path, env_id: str, algo: str = "ppo", **agent) -> str:
    """A small rl config on `env_id` (this module's ids: `HERE:rlgen-test/...`) written to tmp_path."""
    raw = {
        "name": "spaces", "kind": "rl", "seed": 0,
        "env": {"id": env_id, "n_envs": 2},
        "agent": {"algo": algo, "policy": {"net_arch": [8]}, **agent,
                  "hyperparams": {"n_steps": 16, "batch_size": 32, "n_epochs": 1} if algo != "dqn" else {}},
        "train": {"total_steps": 64, "eval_every": 32, "eval_episodes": 2, "progress": False},
        "logging": {"dir": str(tmp_path / "runs"), "console": False, "wandb": {"mode": "disabled"}},
    }
    path = tmp_path / "spaces.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def refused(capsys, tmp_path: Path, args: list[str]) -> str:
    """The command's one error line, after checking it exits 2 and leaves no run directory."""
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
    return " ".join(err.split())


def test_nonzero_start_finds_the_choices_not_numbered_from_0_at_any_depth():
    assert nonzero_start(spaces.Discrete(3)) is None and nonzero_start(spaces.MultiDiscrete([3, 2])) is None
    assert nonzero_start(spaces.Box(-1, 1, (2,))) is None and nonzero_start(spaces.MultiBinary(3)) is None
    assert nonzero_start(spaces.Discrete(3, start=1)) == spaces.Discrete(3, start=1)
    assert nonzero_start(spaces.MultiDiscrete([3, 2], start=[0, -1])) is not None
    nested = spaces.Dict({"a": spaces.Discrete(2), "b": spaces.Tuple((spaces.Box(0, 1), spaces.Discrete(4, start=-2)))})
    assert nonzero_start(nested) == spaces.Discrete(4, start=-2)
    assert nonzero_start(spaces.Tuple((spaces.Discrete(2), spaces.Dict({"c": spaces.MultiBinary(2)})))) is None


FROM_ONE, MULTI_FROM_MINUS_ONE = f"{HERE}:rlgen-test/ActsFromOne-v0", f"{HERE}:rlgen-test/ActsMultiFromMinusOne-v0"


@pytest.mark.parametrize("algo, env_id, space", [("ppo", FROM_ONE, "Discrete(3, start=1)"),  # sent 0 unchecked
                                                 ("dqn", FROM_ONE, "Discrete(3, start=1)"),  # indexed past Q
                                                 ("ppo", MULTI_FROM_MINUS_ONE, "MultiDiscrete([3 2], start=[-1 0])")])
def test_actions_not_numbered_from_0_are_refused_before_training(tmp_path, capsys, algo, env_id, space):
    line = refused(capsys, tmp_path, [rl_yaml(tmp_path, env_id, algo)])
    assert f"acts in {space}, not numbered from 0, and SB3 picks actions 0..n-1 whatever the start" in line, line
    assert "rlgen registers no wrapper that shifts it" in line


def test_observations_not_numbered_from_0_are_refused_without_a_window(tmp_path, capsys):
    line = refused(capsys, tmp_path, [rl_yaml(tmp_path, f"{HERE}:rlgen-test/ObservesFromTwo-v0")])
    assert "observes Discrete(5, start=2), not numbered from 0, and SB3 one-hot encodes choices 0..n-1; use " \
           "env.wrappers: [FlattenObservation]" in line, line


@pytest.mark.parametrize("env_id", [f"{HERE}:rlgen-test/ObservesFromTwo-v0",
                                    f"{HERE}:rlgen-test/ObservesMultiFromFive-v0"])
@pytest.mark.parametrize("fix", ["env.history={length: 2}", "env.wrappers=[FlattenObservation]"])
def test_the_fixes_the_message_names_train(tmp_path, quiet, env_id, fix):
    assert main(["train", rl_yaml(tmp_path, env_id), fix, *quiet]) == 0


def test_a_dict_observation_under_a_sequence_backbone_is_refused_alone(tmp_path, capsys):
    """The memoryless-policy warning is for a policy that will train: none comes before the refusal."""
    lstm = {"backbone": {"type": "lstm", "hidden_size": 8}}
    path = rl_yaml(tmp_path, f"{HERE}:rlgen-test/ObservesDict-v0", policy=lstm)
    line = refused(capsys, tmp_path, [path])
    assert "which rlgen's policies do not take" in line and "no memory" not in line


@pytest.mark.parametrize("config, backbone", [
    ("ppo_cartpole", "{type: lstm, hidden_size: 8, pool: sequence}"),
    ("ppo_cartpole", "{type: transformer, d_model: 8, n_heads: 2, pool: sequence}"),
    ("sac_lstm_pendulum_novel", "{type: gru, hidden_size: 8, pool: sequence}"),  # actor and critics
    ("selfplay_tictactoe", "{type: lstm, pool: sequence}"),
    ("teams_simple_tag", "{type: lstm, pool: sequence}"),
])
def test_a_policy_backbone_pooled_per_step_is_one_config_line(config, backbone):
    if config.startswith("teams"):
        pytest.importorskip("supersuit")
    ok = backbone.replace("pool: sequence", "pool: mean")
    load_config(CONFIGS / f"{config}.yaml", [f"agent.policy.backbone={ok}"])
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / f"{config}.yaml", [f"agent.policy.backbone={backbone}"])
    assert info.value.problems == ["agent.policy.backbone: pool: sequence gives one vector per step of the window, "
                                   "and a policy needs one per observation; use pool: last or mean"]


def test_the_cli_refuses_a_sequence_pool_before_any_run_directory(tmp_path, capsys):
    args = [rl_yaml(tmp_path, "CartPole-v1"), "agent.policy.backbone={type: lstm, hidden_size: 8, pool: sequence}",
            "env.history={length: 3}"]
    assert "agent.policy.backbone: pool: sequence gives one vector per step" in refused(capsys, tmp_path, args)


RECURRENT = CONFIGS / "recurrent_ppo_cartpole_novel.yaml"


@pytest.mark.parametrize("keys, listed, pronoun", [
    ("dropout: 0.1", "dropout: 0.1", "it"),
    ("pool: mean, activation: relu, norm: layer", "activation: relu, norm: layer, pool: mean", "them"),
    ("init: {run: runs/x, role: policy}", "init", "it"),
])
def test_a_new_run_with_lstm_keys_recurrent_ppo_would_drop_is_one_line(tmp_path, capsys, keys, listed, pronoun):
    # refused as the run is set up, not when its config loads: a run trained before the refusal still opens
    load_config(RECURRENT, [f"agent.policy.backbone={{type: lstm, hidden_size: 16, {keys}}}"])
    args = [rl_yaml(tmp_path, "rlgen/CartPoleNoVel-v1", "recurrent_ppo"),
            f"agent.policy.backbone={{type: lstm, hidden_size: 8, {keys}}}"]
    assert refused(capsys, tmp_path, args) == (
        "error: agent.policy.backbone: under recurrent_ppo an lstm backbone is sb3-contrib's own LSTM, which takes "
        f"hidden_size and num_layers only, so {listed} would have no effect; remove {pronoun}, or use algo: ppo with "
        "env.history: {length: N} for rlgen's lstm over a window of past steps")


def test_a_run_trained_with_lstm_keys_recurrent_ppo_ignores_opens_and_resumes_with_a_warning(
        tmp_path, capsys, monkeypatch):
    import rlgen
    from rlgen.agents.rl import setup_checks

    config = rl_yaml(tmp_path, "rlgen/CartPoleNoVel-v1", "recurrent_ppo")
    with monkeypatch.context() as m:  # trained by an rlgen that did not yet refuse them
        m.setattr(setup_checks, "unused_by_recurrent_lstm", lambda backbone: [])
        run_dir = rlgen.train(config, ["agent.policy.backbone={type: lstm, hidden_size: 8, activation: relu, "
                                       "dropout: 0.1}"]).run_dir
    capsys.readouterr()
    assert run_config(run_dir).agent.policy.backbone.activation == "relu"  # load_run, rlgen eval, export
    loaded = rlgen.load_run(run_dir)
    assert "eval/return_mean" in loaded.evaluate(episodes=1)
    loaded.close()
    assert capsys.readouterr().err == ""  # opened to act or evaluate: as it trained, without a word
    resumed = rlgen.train(resume=run_dir, overrides=["train.total_steps=96"])
    assert resumed.summary["status"] == "completed" and resumed.summary["global_step"] >= 96
    err = " ".join(capsys.readouterr().err.split())
    assert ("warning: agent.policy.backbone: under recurrent_ppo an lstm backbone is sb3-contrib's own LSTM, which "
            "takes hidden_size and num_layers only, so activation: relu, dropout: 0.1 have no effect: this run "
            "trained without them, and goes on so") in err


def test_lstm_keys_left_at_their_defaults_pass_under_recurrent_ppo():
    spelled = "{type: lstm, hidden_size: 16, num_layers: 2, activation: tanh, norm: none, dropout: 0.0, pool: last}"
    cfg = load_config(RECURRENT, [f"agent.policy.backbone={spelled}"])
    assert cfg.agent.policy.backbone.num_layers == 2
    # the same keys mean something to a backbone over a window: there they stay allowed
    load_config(RECURRENT, ["agent.algo=ppo", "agent.policy.backbone={type: lstm, dropout: 0.1, pool: mean}",
                            "env.history={length: 4}", "agent.hyperparams={}"])


class OffsetDuel(Duel):
    """Duel observing its positions as choices numbered from -10."""

    def observation_space(self, agent):
        return spaces.MultiDiscrete([21, 21, 21], start=[-10, -10, 0])

    def _obs(self, agent):
        return np.array([self.pos[agent], 0, self.t], np.int64)


def test_a_team_game_observing_choices_not_numbered_from_0_is_one_game_name_line():
    pytest.importorskip("supersuit")
    overrides = [f"game.name={HERE}:OffsetDuel", "game.kwargs={}", "league.references=[]", "league.reference_prob=0",
                 "ratings.baselines=[random]"]
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "teams_simple_tag.yaml", overrides)
    assert info.value.problems == [
        f"game.name: {HERE}:OffsetDuel: red_0 observes MultiDiscrete([21 21 21], start=[-10 -10 0]), not numbered "
        "from 0 as kind: teams's policies need; point game.name at a function that returns the game with "
        "observations numbered from 0"]


gym.register("rlgen-test/ObservesScalar-v0", entry_point=lambda: Spaced(obs=spaces.Box(-1, 1, (), np.float32)))
SCALAR = f"{HERE}:rlgen-test/ObservesScalar-v0"


def test_a_0d_observation_under_sb3s_default_extractor_is_one_line(tmp_path, capsys):
    """SB3's default extractor flattens from axis 1: a 0-d Box failed at the first update, inside torch."""
    line = refused(capsys, tmp_path, [rl_yaml(tmp_path, SCALAR)])
    assert "observes a 0-d Box (Box(-1.0, 1.0, (), float32)), which SB3's default feature extractor cannot " \
           "flatten; give agent.policy.backbone (e.g. {type: mlp}), or env.wrappers: [{ReshapeObservation: " \
           "{shape: [1]}}]" in line, line


@pytest.mark.parametrize("fix", ["agent.policy.backbone={type: mlp}", "env.wrappers=[{ReshapeObservation: {shape: [1]}}]"])
def test_the_fixes_the_0d_message_names_train(tmp_path, quiet, fix):
    assert main(["train", rl_yaml(tmp_path, SCALAR), fix, *quiet]) == 0


def test_trpo_trains_a_transformer_policy(tmp_path, quiet):
    """TRPO's Hessian-vector products differentiate the policy twice; torch's fused attention
    kernel has no second derivative, so this failed inside torch at the first update."""
    config = rl_yaml(tmp_path, "CartPole-v1", "trpo")
    assert main(["train", config, "agent.policy.backbone={type: transformer, d_model: 16, n_heads: 2, n_layers: 1}",
                 "env.history={length: 4}", "agent.hyperparams={n_steps: 32, batch_size: 32}", *quiet]) == 0

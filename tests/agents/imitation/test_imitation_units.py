"""`kind: imitation`'s training unit: an off-policy one is ~1,000 env steps whatever train.eval_every
is (each unit ends in a discriminator round), and the learner's windows never show the env's reward."""

import json

import pytest

import rlgen
from rlgen.envs import make_env_fn
from rlgen.envs.demos import write_demos
from rlgen.envs.recording import record_episodes
from rlgen.errors import ConfigError
from tests.agents.imitation.test_imitation import _built, gail_config
from tests.agents.imitation.test_imitation_edges import Swing


@pytest.fixture(scope="module")
def swing_demos(tmp_path_factory):
    swings = record_episodes(Swing(), make_env_fn("Pendulum-v1"), episodes=1, seed=0)
    return write_demos(swings, tmp_path_factory.mktemp("swing") / "swing.npz", env_id="Pendulum-v1")


def _sac(tmp_path, demos, eval_every):
    return gail_config(tmp_path, demos, total=1000, env={"id": "Pendulum-v1", "n_envs": 1},
                       agent={"algo": "sac", "policy": {"backbone": {"type": "mlp", "hidden": [8]}},
                              "hyperparams": {"learning_starts": 900, "buffer_size": 1000, "batch_size": 16}},
                       train={"eval_every": eval_every, "checkpoint_every": 1000, "eval_episodes": 1})


def test_an_off_policy_unit_and_learner_buffer_do_not_follow_eval_every(tmp_path, swing_demos):
    exp = _built(tmp_path, _sac(tmp_path / "runs", swing_demos, eval_every=100))
    try:  # kind: rl's unit would be 100 steps: ten discriminator rounds per 1,000 steps instead of one
        assert exp.unit_steps == 1000 and exp.learner_store.capacity == 1000
    finally:
        exp.close()


def test_eval_every_does_not_change_training(tmp_path, swing_demos):
    def at_1000(eval_every):
        run = rlgen.train(_sac(tmp_path / str(eval_every), swing_demos, eval_every))
        rows = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if not k.startswith(("time/", "eval/wall"))}
                for row in rows if row["global_step"] == 1000]

    first = at_1000(1000)
    assert any("gan/loss_d" in row for row in first)
    assert at_1000(500) == first  # the discriminator's numbers and the true return alike


def test_env_history_rewards_are_refused_when_the_config_is_checked(tmp_path, swing_demos):
    window = {"length": 3, "rewards": True}
    raw = gail_config(tmp_path, swing_demos, env={"id": "Pendulum-v1", "history": window},
                      agent={"algo": "sac", "policy": {"backbone": {"type": "lstm", "hidden_size": 8}},
                             "hyperparams": {}})
    with pytest.raises(ConfigError) as e:  # the expert's windows would show the demos' rewards too
        rlgen.load_config(raw)
    assert [p.split(":")[0] for p in e.value.problems] == ["env.history.rewards"]
    raw["env"]["history"]["rewards"] = False
    rlgen.load_config(raw)

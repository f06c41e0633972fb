"""agents/rl/algos.py: the checks of SB3 hyperparameters, as the config loads (`check_hyperparams`),
and the counts SB3 then gets (`integral_counts`)."""

import pytest

from rlgen.agents.rl.algos import check_hyperparams, integral_counts
from rlgen.cli import main


@pytest.mark.parametrize("freq, says", [
    (0, "Input should be greater than or equal to 1 (got 0)"),
    (-3, "Input should be greater than or equal to 1 (got -3)"),
    ([0, "step"], "Input should be greater than or equal to 1 (got [0, 'step'])"),
    ([2, "step", 3], "Tuple should have at most 2 items after validation, not 3 (got [2, 'step', 3])"),
    ([1, "epsiode"], "Input should be 'step' or 'episode' (got [1, 'epsiode'])"),
    ([2.5, "step"], "Input should be a valid integer, got a number with a fractional part (got [2.5, 'step'])"),
])
def test_train_freq_is_a_count_or_a_count_and_its_unit(freq, says):
    """0 and -3 were SB3's AssertionError at the first learn(); [2, step, 3] trained silently."""
    assert check_hyperparams("sac", {"train_freq": freq}) == [
        f"agent.hyperparams.train_freq: {says}; write n or [n, step] / [n, episode], n >= 1"]


@pytest.mark.parametrize("freq", [1, 1e1, [1, "episode"], [1e1, "step"]])
def test_train_freq_takes_counts_with_an_exponent_and_both_units(freq):
    assert check_hyperparams("sac", {"train_freq": freq}, n_envs=1) == []


def test_training_every_episode_needs_one_env():
    """SB3 asserts "You must use only one env when doing episodic training" at the first learn()."""
    assert check_hyperparams("dqn", {"train_freq": [2, "episode"]}, n_envs=4) == [
        "agent.hyperparams.train_freq: training every 2 episode(s) needs env.n_envs 1 (SB3 collects whole episodes "
        "from one env), not 4; set env.n_envs=1 or count steps: [2, step]"]
    assert check_hyperparams("dqn", {"train_freq": [2, "step"]}, n_envs=4) == []


@pytest.mark.parametrize("key", ["gradient_steps", "sde_sample_freq"])
def test_whole_numbers_of_any_sign(key):
    """A negative means "as many as the steps collected" / "only at each rollout's start"; a float
    was a TypeError deep in SB3."""
    assert check_hyperparams("sac", {key: 2.5}) == [
        f"agent.hyperparams.{key}: Input should be a valid integer, got a number with a fractional part (got 2.5)"]
    for fine in (-1, -5, 0, 1e1):
        assert check_hyperparams("sac", {key: fine}) == [], fine


def test_counts_written_with_an_exponent_are_given_to_sb3_as_ints():
    counts = integral_counts({"train_freq": [1e1, "episode"], "gradient_steps": -1.0, "sde_sample_freq": 4.0,
                              "cg_max_steps": 1e1, "gamma": 1.0})
    assert counts == {"train_freq": (10, "episode"), "gradient_steps": -1, "sde_sample_freq": 4,
                      "cg_max_steps": 10, "gamma": 1.0}
    assert [type(v) for v in counts.values()] == [tuple, int, int, int, float]
    assert type(integral_counts({"train_freq": 1e1})["train_freq"]) is int


def test_a_float_train_freq_and_gradient_steps_train(tmp_path, quiet):
    """`train_freq=1e1` was refused by SB3 ("must be an integer and not 10.0"), `gradient_steps=1e1`
    a TypeError traceback."""
    import rlgen

    run = rlgen.train("sac_pendulum", ["agent.hyperparams.train_freq=1e1", "agent.hyperparams.gradient_steps=1e1",
                                       "agent.hyperparams.learning_starts=10", "agent.hyperparams.batch_size=8",
                                       "train.total_steps=20", "train.eval_every=20", "train.eval_episodes=1",
                                       f"logging.dir={tmp_path}", *quiet])
    model = run.experiment.model
    assert (model.train_freq.frequency, model.gradient_steps, model._n_updates) == (10, 10, 10)
    run.close()


@pytest.mark.parametrize("hyperparams, kwargs, drop, kept", [
    ({"top_quantiles_to_drop_per_net": 25}, {}, 25, 25),  # SB3's default n_quantiles
    ({"top_quantiles_to_drop_per_net": 40}, {}, 40, 25),
    ({}, {"n_quantiles": 2}, 2, 2),  # TQC's default drop
])
def test_tqc_drops_fewer_quantiles_than_each_critic_has(hyperparams, kwargs, drop, kept):
    """All of them made NaN losses, reported as divergence; more trained on a wrong count silently."""
    assert check_hyperparams("tqc", hyperparams, policy_kwargs=kwargs) == [
        f"agent.hyperparams.top_quantiles_to_drop_per_net: {drop} must be below agent.policy.kwargs.n_quantiles "
        f"({kept}): TQC would drop every quantile of each critic's target; lower it or raise n_quantiles"]


def test_tqc_quantiles_within_each_critic_pass():
    assert check_hyperparams("tqc", {"top_quantiles_to_drop_per_net": 24}, policy_kwargs={}) == []
    assert check_hyperparams("tqc", {"top_quantiles_to_drop_per_net": 40}, policy_kwargs={"n_quantiles": 50}) == []
    assert check_hyperparams("tqc", {"top_quantiles_to_drop_per_net": "lin_2"}, policy_kwargs={}) == []


@pytest.mark.parametrize("algo, key, value", [("sac", "n_steps", [1]), ("ppo", "n_steps", True),
                                              ("ppo", "ent_coef", [0.1]), ("ppo", "clip_range_vf", [0.2]),
                                              ("ppo", "target_kl", "0.1")])
def test_a_number_argument_refuses_what_is_not_a_number(algo, key, value):
    """`n_steps: [1]` passed the check, then failed as "could not build PPO: '>' not supported
    between 'list' and 'int'", naming no key; clip_range_vf and target_kl default to None."""
    assert check_hyperparams(algo, {key: value}) == [f"agent.hyperparams.{key}: expected a number, got {value!r}"]


def test_none_and_structured_values_stay_allowed():
    assert check_hyperparams("ppo", {"clip_range_vf": None, "target_kl": None}) == []
    assert check_hyperparams("td3", {"action_noise": {"type": "normal", "sigma": 0.1}}) == []


@pytest.mark.parametrize("override, says", [
    ("agent.hyperparams.train_freq=[2, step, 3]", "agent.hyperparams.train_freq: Tuple should have at most 2 items"),
    ("agent.hyperparams={n_steps: [1]}", "agent.hyperparams.n_steps: expected a number, got [1]"),
])
def test_the_cli_refuses_in_one_line_before_a_run_directory(tmp_path, capsys, quiet, override, says):
    assert main(["train", "sac_pendulum", override, *quiet, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err and not (tmp_path / "run").exists()

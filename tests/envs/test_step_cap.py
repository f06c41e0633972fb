"""`step_capped`: what evaluation and `rlgen record` play always ends."""

from rlgen import envs


def test_a_null_max_episode_steps_on_an_env_without_a_limit_keeps_the_cap():
    """null sets no TimeLimit (gymnasium.make), so evaluation of an endless env would never end."""
    capped = envs.step_capped("CliffWalking-v1", {"max_episode_steps": None}, [])
    assert capped == {"max_episode_steps": envs.EPISODE_STEP_CAP}
    assert envs.step_capped("CartPole-v1", {"max_episode_steps": None}, []) == {"max_episode_steps": None}  # its own 500

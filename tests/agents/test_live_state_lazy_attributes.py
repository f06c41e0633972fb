"""live_state restores an attribute the fresh object has not made yet, whatever its value."""

from rlgen.agents.rl import live_state


class Lazy:
    """As PettingZoo's AECEnv: `_skip_agent_selection` exists only once an agent has finished."""

    def __init__(self):
        self.turn = 0


def test_an_attribute_made_after_construction_is_restored_even_as_none():
    saved = Lazy()
    saved.turn, saved._skip_agent_selection, saved.later = 3, None, 0
    fresh = Lazy()
    assert live_state.restore(fresh, live_state.capture(saved)) == []
    assert vars(fresh) == {"turn": 3, "_skip_agent_selection": None, "later": 0}
    assert live_state.capture(fresh)["tree"] == live_state.capture(saved)["tree"]

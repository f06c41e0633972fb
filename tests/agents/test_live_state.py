"""live_state: the plain-data state of live object graphs (SB3 models, vector envs, games) and its
restore into a fresh graph built the same way."""

import random
import sys
import threading
from collections import deque, namedtuple
from enum import Enum

import numpy as np
import torch

import rlgen.logging as rlog
from rlgen import checkpoint
from rlgen.agents.rl import live_state
from rlgen.agents.rl.experiment import RLExperiment
from rlgen.logging import Logger
from rlgen.runner import RunContext
from tests.agents.rl_helpers import rl_config

Pair = namedtuple("Pair", "pi vf")


class Phase(Enum):
    OPEN, CLOSED = 1, 2


class Inner:
    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.board = [0, 0, 0]
        self.phase = Phase.OPEN
        self.weights = torch.zeros(3)


class World:
    def __init__(self):
        self.inner = Inner()
        self.shared = {"a": 1}
        self.also = self.shared  # one dict, two names
        self.states = Pair(torch.zeros(2), torch.zeros(2))
        self.window = deque([1, 2], maxlen=3)
        self.legacy = np.random.RandomState(0)
        self.py = random.Random(0)
        self.callback = lambda: None  # behaviour: never captured
        self.t_start = 0.0  # wall clock: never captured
        self.optimizer = torch.optim.SGD([self.inner.weights.requires_grad_()], lr=0.1)


def _advance(w: World) -> None:
    w.inner.rng.random(5)
    w.inner.board[1] = 7
    w.inner.phase = Phase.CLOSED
    with torch.no_grad():
        w.inner.weights += 1
    w.shared["a"] = 2
    w.states = Pair(torch.ones(2), torch.full((2,), 2.0))
    w.window.append(3)
    w.legacy.rand(3)
    w.py.random()
    w.late = "made after construction"
    w.shared["groups"] = {3: Pair(1, (2, 3))}  # made during play (go's groups): the fresh graph has no such entry


def test_a_graph_restores_into_a_fresh_one_with_its_aliasing_and_in_place(tmp_path):
    saved, fresh = World(), World()
    _advance(saved)
    checkpoint.save(tmp_path, 1, {"s": live_state.capture(saved)})  # through a real checkpoint: plain data
    captured = checkpoint.load(tmp_path)["s"]
    weights = fresh.inner.weights
    assert live_state.restore(fresh, captured) == []
    assert fresh.inner.rng.random() == saved.inner.rng.random()
    assert fresh.inner.board == [0, 7, 0] and fresh.inner.phase is Phase.CLOSED
    assert fresh.inner.weights is weights and torch.equal(weights, saved.inner.weights)  # the optimizer's tensor
    assert fresh.also is fresh.shared and fresh.shared == {"a": 2, "groups": {3: (1, (2, 3))}}
    assert type(fresh.shared["groups"][3]) is Pair and fresh.shared["groups"][3].vf == (2, 3)
    assert isinstance(fresh.states, Pair) and torch.equal(fresh.states.vf, saved.states.vf)
    assert fresh.window == deque([1, 2, 3]) and fresh.window.maxlen == 3
    assert fresh.legacy.rand() == saved.legacy.rand() and fresh.py.random() == saved.py.random()
    assert fresh.late == "made after construction"
    assert callable(fresh.callback) and fresh.t_start == 0.0


def test_a_namedtuple_whose_class_no_loaded_module_defines_is_a_problem_not_an_import():
    captured = live_state.capture({"g": Pair(1, 2)})
    captured["tree"]["g"]["__namedtuple__"] = "a_module_nobody_imported.Pair"
    fresh: dict = {}
    assert live_state.restore(fresh, captured) == ["g: saved a a_module_nobody_imported.Pair, which no loaded "
                                                  "module defines"]
    assert fresh == {"g": (1, 2)} and "a_module_nobody_imported" not in sys.modules


def _marker_module():
    """A throwaway module whose `__getattr__` would import (here: record) whatever it is asked for."""
    import types

    mod = types.ModuleType("rlgen_test_lazy")
    mod.asked = []
    mod.__getattr__ = lambda name: mod.asked.append(name)
    return mod


def test_a_namedtuple_is_looked_up_without_running_a_module_getattr(monkeypatch):
    mod = _marker_module()
    monkeypatch.setitem(sys.modules, "rlgen_test_lazy", mod)
    captured = live_state.capture({"g": Pair(1, 2)})
    captured["tree"]["g"]["__namedtuple__"] = "rlgen_test_lazy.submodule.Pair"  # a lazy import, had it asked
    assert live_state.restore({}, captured) == ["g: saved a rlgen_test_lazy.submodule.Pair, which no loaded "
                                                "module defines"]
    assert mod.asked == []


def test_a_crafted_tree_never_writes_into_behaviour_nor_refers_to_it():
    """Plain data that passes weights-only loading and a checksum, written by someone who walks
    from a live attribute into code: a function's globals, a dunder, a reference to a skipped
    object. Each is a problem, and nothing outside the graph's own state changes."""
    def helper():
        return "original"

    saved, fresh = World(), World()
    fresh.callback = helper
    captured = live_state.capture(saved)
    attrs = captured["tree"]["attrs"]
    # 1. into a function's globals (through a method / __func__ / __globals__ on the way)
    attrs["callback"] = {"__object__": "builtins.function", "attrs": {"__globals__": {"rlgen_planted": 1}}}
    # 2. a dunder of a state object, and a class attribute shadowed by plain data
    attrs["inner"]["attrs"]["__class__"] = "x"
    # 3. a reference to what restore met but capture never keeps (the optimizer: a config type)
    attrs["optimizer"] = {"__skipped__": True}
    attrs["board_alias"] = {"__shared__": "optimizer"}
    # 4. a reference to a path nothing restored
    attrs["other"] = {"__shared__": "no.such.path"}
    problems = live_state.restore(fresh, captured)
    assert sorted(problems) == [
        "board_alias: refers to 'optimizer', which was not restored before it",
        "callback: the file writes into a builtins.function, which holds no state; refused",
        "inner.__class__: not an attribute rlgen saves; refused",
        "other: refers to 'no.such.path', which was not restored before it",
    ]
    assert fresh.callback is helper and helper() == "original" and "rlgen_planted" not in helper.__globals__
    assert type(fresh.inner) is Inner and not hasattr(fresh, "board_alias")


def test_what_lives_outside_the_process_is_reported_not_captured():
    w = World()
    w.inner.lock = threading.Lock()
    captured = live_state.capture(w)
    assert live_state.uncaptured(captured) == ["inner.lock (_thread.lock)"]


def test_a_fresh_graph_of_another_shape_is_reported():
    saved, fresh = World(), World()
    fresh.inner = None
    assert live_state.restore(fresh, live_state.capture(saved)) == ["inner: saved a tests.agents.test_live_state.Inner, "
                                                                      "found nothing"]


def test_subprocess_envs_resume_with_a_warning_that_it_is_not_exact(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(rlog.console, "print", lambda msg="", *a, **k: said.append(str(msg)))
    cfg = rl_config(tmp_path, "ppo", "CartPole-v1", n_envs=2, total=256, hyperparams={"n_steps": 16, "batch_size": 32},
                    env={"id": "CartPole-v1", "n_envs": 2, "vectorize": "subproc"})
    exps = []
    for _ in range(2):
        exp = RLExperiment(cfg)
        exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), 0))
        exps.append(exp)
    try:
        exps[0].train_unit()
        state = exps[0].state_dict()
        assert any("multiprocessing" in p for p in live_state.uncaptured(state["env"]))
        with checkpoint.to_use():  # opened to act with (rlgen.load_run): no resume to warn about
            exps[1].load_state_dict(state)
        assert not any("not exact" in w for w in said), said
        exps[1].load_state_dict(state)
        assert exps[1].model._last_obs is None  # SB3 starts new episodes
        assert exps[1].global_step == exps[0].global_step
        exps[1].train_unit()
    finally:
        for exp in exps:
            exp.close()
    assert any("this resume is not exact: the training envs cannot be restored" in w for w in said), said


class Dice:
    """A callable player with dice: behaviour, unless its class says it holds state."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def __call__(self):
        return int(self.rng.integers(6))


class StatefulDice(Dice):
    live_state = True


def test_a_callable_is_behaviour_unless_its_class_says_it_holds_state():
    class Holder:
        def __init__(self):
            self.plain, self.stateful = Dice(), StatefulDice()

    live = Holder()
    [live.plain() for _ in range(3)], [live.stateful() for _ in range(3)]
    saved = live_state.capture(live)
    fresh = Holder()
    assert live_state.restore(fresh, saved) == []
    assert [fresh.stateful() for _ in range(5)] == [live.stateful() for _ in range(5)]  # its dice carried over
    untouched = Dice().rng.bit_generator.state
    assert fresh.plain.rng.bit_generator.state == untouched != live.plain.rng.bit_generator.state  # left out


def jitter(seed: int):
    """A scripted player as a game module may write one: its dice in a closure."""
    rng = np.random.default_rng(seed)
    return lambda: int(rng.integers(6))


def roll(rng: np.random.Generator) -> int:
    return int(rng.integers(6))


def test_dice_left_out_with_a_function_are_reported_not_dropped_in_silence():
    """A teams game's PLAYERS entry returning such a closure resumed not bit for bit, and no warning said so."""
    from functools import partial

    from rlgen.agents.selfplay.opponents import random_player

    rng = np.random.default_rng(0)
    live = {"players": [jitter(0)], "by_default": lambda rng=rng: roll(rng), "bound": partial(roll, rng)}
    fix = "; keep it on an object whose class sets live_state = True)"
    assert live_state.uncaptured(live_state.capture(live)) == [
        f"players.0 (a random generator in the closure of {__name__}.jitter.<locals>.<lambda>{fix}",
        f"by_default (a random generator in the closure of {__name__}.{live['by_default'].__qualname__}{fix}",
        f"bound (a random generator in the closure of {__name__}.roll{fix}"]
    # behaviour without dice, and rlgen's own references, whose dice their experiment saves (opponent_rng)
    calm = {"plain": lambda: 1, "reference": random_player(rng), "stateful": StatefulDice()}
    assert live_state.uncaptured(live_state.capture(calm)) == []


class Replacement(Inner):
    """Takes an `Inner`'s state (a class that replaced another, as EpisodeMonitor replaced Monitor)."""

    restores_from = ("tests.agents.test_live_state.Inner",)
    extra = None  # what the replaced class's state lacks: the class default serves

    def __init__(self):
        super().__init__()
        self.extra = "made in __init__"


def test_a_class_takes_the_state_of_the_class_it_declares_it_replaced():
    saved = Inner()
    saved.board = [1, 2, 3]
    assert live_state.restore(fresh := Replacement(), live_state.capture(saved)) == []
    assert fresh.board == [1, 2, 3] and fresh.extra is None
    assert live_state.restore(Inner(), live_state.capture(Replacement())) == [
        "<root>: saved a tests.agents.test_live_state.Replacement, found tests.agents.test_live_state.Inner"]


def test_a_crafted_tree_cannot_turn_sb3s_logging_back_on_into_a_folder_it_names(tmp_path):
    """tensorboard_log with _custom_logger False would have the next learn() make a tensorboard
    log where the file says; SB3's logging setup is rlgen's, never the file's."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    def model():
        m = PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, device="cpu")
        m.set_logger(configure(None, []))
        return m

    captured = live_state.capture(model())
    attrs = captured["tree"]["attrs"]
    attrs.update(_custom_logger=False, tensorboard_log=str(tmp_path / "elsewhere"), verbose=1)
    fresh = model()
    assert live_state.restore(fresh, captured) == []  # skipped names in a file are left alone, not errors
    assert fresh._custom_logger is True and fresh.tensorboard_log is None and fresh.verbose == 0
    assert "_custom_logger" not in live_state.capture(fresh)["tree"]["attrs"]

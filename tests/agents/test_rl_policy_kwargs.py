"""agent.policy.kwargs that rlgen sets itself from its own sections (sb3_bridge.policy_kwargs) would be
overwritten without a word: a new run is refused in one line naming the rlgen key to use instead."""

from types import SimpleNamespace

import pytest

import rlgen
from rlgen.agents.rl.algos import ALGOS
from rlgen.agents.rl.setup_checks import check_policy_kwargs, overwritten_policy_kwargs
from rlgen.errors import RlgenError
from tests.agents.rl_helpers import rl_config

LSTM = {"type": "lstm", "hidden_size": 8}
MLP = {"type": "mlp", "hidden": [8]}


def _config(tmp_path, algo, backbone, kwargs, **policy):
    return rl_config(tmp_path, algo, n_envs=1, total=16, hyperparams={"n_steps": 8, "batch_size": 8},
                     agent={"algo": algo, "policy": {"backbone": backbone, "kwargs": kwargs, **policy},
                            "hyperparams": {"n_steps": 8, "batch_size": 8}})


@pytest.mark.parametrize("algo, backbone, kwargs, said", [
    ("recurrent_ppo", LSTM, {"n_lstm_layers": 3}, "agent.policy.kwargs.n_lstm_layers: rlgen sets it from "
     "agent.policy.backbone.num_layers, which would overwrite the value given here; set "
     "agent.policy.backbone.num_layers instead"),
    ("recurrent_ppo", LSTM, {"lstm_hidden_size": 4}, "agent.policy.kwargs.lstm_hidden_size: rlgen sets it from "
     "agent.policy.backbone.hidden_size"),
    ("ppo", MLP, {"share_features_extractor": False}, "agent.policy.kwargs.share_features_extractor: rlgen sets it "
     "from agent.policy.share_backbone"),
])
def test_a_new_run_giving_a_kwarg_rlgen_overwrites_is_refused_and_leaves_no_directory(tmp_path, algo, backbone,
                                                                                      kwargs, said):
    with pytest.raises(RlgenError, match="^" + said.replace(".", r"\.")):
        rlgen.train(_config(tmp_path, algo, backbone, kwargs))
    assert not list(tmp_path.iterdir())


def test_only_kwargs_rlgen_sets_for_this_config_count(tmp_path):
    ppo = ALGOS["ppo"].policy_aliases["MlpPolicy"]
    assert overwritten_policy_kwargs(_config(tmp_path, "ppo", MLP, {"ortho_init": False}), ppo) == {}
    # net_arch and optimizer_kwargs pass through to SB3 until rlgen's own key sets them
    assert overwritten_policy_kwargs(_config(tmp_path, "ppo", MLP, {"net_arch": [4]}), ppo) == {}
    assert overwritten_policy_kwargs(_config(tmp_path, "ppo", MLP, {"net_arch": [4]}, net_arch=[8]), ppo) == \
        {"net_arch": "agent.policy.net_arch"}
    given = {"optimizer_kwargs": {"eps": 1e-8}}
    assert overwritten_policy_kwargs(_config(tmp_path, "ppo", MLP, given), ppo) == {}
    cfg = _config(tmp_path, "ppo", MLP, given).model_copy(update={"optim": rlgen.config.OptimConfig(weight_decay=0.1)})
    assert list(overwritten_policy_kwargs(cfg, ppo)) == ["optimizer_kwargs"]


def test_a_run_trained_with_them_still_opens_and_resumes(tmp_path):
    cfg = _config(tmp_path, "recurrent_ppo", LSTM, {"n_lstm_layers": 3})
    policy = ALGOS["recurrent_ppo"].policy_aliases["MlpLstmPolicy"]
    check_policy_kwargs(cfg, SimpleNamespace(training=False, resumed=True), policy)  # act, evaluate, export
    check_policy_kwargs(cfg, SimpleNamespace(training=True, resumed=True), policy)  # resume: a warning


@pytest.fixture(scope="module")
def identity_demos(tmp_path_factory):
    from rlgen.envs import make_env_fn
    from rlgen.envs.demos import write_demos
    from rlgen.envs.recording import record_episodes
    from tests.agents.imitation.test_bc import Identity

    demos = record_episodes(Identity(), make_env_fn("rlgen/Identity-v0"), episodes=2, seed=0)
    return write_demos(demos, tmp_path_factory.mktemp("identity") / "identity.npz", env_id="rlgen/Identity-v0")


def _other_kinds(tmp_path, demos):
    from tests.agents.imitation.test_bc import bc_config
    from tests.agents.imitation.test_imitation import gail_config

    selfplay = rlgen.load_config("selfplay_tictactoe", [f"logging.dir={tmp_path}", "logging.wandb.mode=disabled"])
    teams = rlgen.load_config("teams_simple_tag", [f"logging.dir={tmp_path}", "logging.wandb.mode=disabled"])
    return {"imitation": gail_config(tmp_path, demos), "bc": bc_config(tmp_path, "rlgen/Identity-v0", demos),
            "selfplay": selfplay.model_dump(), "teams": teams.model_dump()}


@pytest.mark.parametrize("kind", ["imitation", "bc", "selfplay", "teams"])
def test_the_kinds_that_build_sb3_policies_as_kind_rl_refuse_them_too(tmp_path, identity_demos, kind):
    raw = _other_kinds(tmp_path / "runs", identity_demos)[kind]
    raw["agent"]["policy"]["kwargs"] = {"share_features_extractor": False}
    with pytest.raises(RlgenError, match=r"^agent\.policy\.kwargs\.share_features_extractor: rlgen sets it from "):
        rlgen.train(raw)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())

"""Run names, groups and tags show what differs from the config a run came from."""

import pytest

import rlgen
from rlgen.api import config_path, run_config
from rlgen.identity import describe, differences, identity, show


def test_an_override_names_the_run():
    who = identity(rlgen.load_config("ppo_cartpole", ["optim.lr=3e-4", "seed=1"]))
    assert who.name == "ppo_cartpole lr=3e-4 s1"
    assert who.group == "ppo_cartpole lr=3e-4"  # the seeds of this variant together
    assert who.tags == ["lr=3e-4"]


def test_seed_and_logging_never_tell_variants_apart():
    who = identity(rlgen.load_config("ppo_cartpole", ["seed=7", "logging.dir=elsewhere", "train.progress=false",
                                                      "logging.wandb.mode=disabled"]))
    assert (who.name, who.group, who.tags) == ("ppo_cartpole s7", "ppo_cartpole", [])


def test_a_new_backbone_is_one_word():
    cfg = rlgen.load_config("ppo_cartpole", ["agent.policy.backbone={type: transformer, d_model: 32}"])
    assert differences(cfg, rlgen.load_config("ppo_cartpole")) == {"agent.policy.backbone.type": "transformer"}
    assert identity(cfg).group == "ppo_cartpole backbone=transformer"


def test_lists_and_a_new_hyperparameter():
    cfg = rlgen.load_config("ppo_cartpole", ["agent.policy.backbone.hidden=[128,128]", "agent.hyperparams.vf_coef=0.25"])
    assert identity(cfg).tags == ["hidden=[128,128]", "vf_coef=0.25"]


def test_clashing_key_names_grow_until_unique():
    assert describe({"env.n_envs": 4, "eval_env.n_envs": 8, "optim.lr": 1e-3}) == [
        "env.n_envs=4", "eval_env.n_envs=8", "lr=0.001"]


@pytest.mark.parametrize("value, text", [(3e-4, "3e-4"), (0.001, "0.001"), (1e-3, "0.001"), (2.5e-5, "2.5e-5"),
                                         (250000.0, "2.5e5"), (0.98, "0.98"), (1.0, "1"), (0.0, "0"),
                                         (0.99999, "0.99999"), (1.2345678e-7, "1.2345678e-7"),
                                         (True, "true"), (None, "null"), ([64, 64], "[64,64]"),
                                         (float("inf"), ".inf"), (-float("inf"), "-.inf")])
def test_show(value, text):
    assert show(value) == text


@pytest.mark.parametrize("key, values", [("agent.hyperparams.gamma", ["0.99999", "1.0", "0.99995"]),
                                         ("optim.lr", ["0.0123456", "0.0123459", "1.5e-7", "1.50001e-7"])])
def test_variants_that_differ_in_a_far_digit_are_apart(key, values):
    """Rounded to 4 digits, gamma 0.99999 was `gamma=1` and shared the W&B group of gamma 1.0."""
    groups = [identity(rlgen.load_config("ppo_cartpole", [f"{key}={v}"])).group for v in values]
    assert len(set(groups)) == len(values), groups
    assert groups[0].endswith(f"={values[0]}")  # the value as written


def test_a_run_with_an_infinite_value_is_named(tmp_path):
    """`max_grad_norm: .inf` (no clipping) broke the W&B run's name, and so W&B for the run."""
    cfg = rlgen.load_config("ppo_cartpole", ["agent.hyperparams.max_grad_norm=.inf"])
    assert identity(cfg).group == "ppo_cartpole max_grad_norm=.inf"


def test_a_config_of_its_own_has_no_base(tmp_path):
    cfg = rlgen.load_config({"name": "mine", "kind": "rl", "seed": 2, "env": {"id": "CartPole-v1"},
                             "agent": {"algo": "ppo"}, "train": {"total_steps": 100}})
    assert (identity(cfg).name, identity(cfg).group) == ("mine s2", "mine")


def test_a_zoo_config_is_compared_with_its_zoo_entry():
    _needs_zoo()
    who = identity(rlgen.load_config("zoo:ppo/CartPole-v1", ["optim.lr=5e-4", "env.n_envs=4"]))
    assert who.name == "zoo_ppo_CartPole-v1 n_envs=4 lr=5e-4 s0"  # rl-zoo3 says 8 envs, lr lin_0.001


def _needs_zoo():
    import importlib.util

    if importlib.util.find_spec("rl_zoo3") is None:
        pytest.skip("rl_zoo3 is not installed (make install adds it with --no-deps)")


# Eight ordinary overrides make a description longer than W&B's 128 characters.
LONG = ["agent.policy.backbone.hidden=[256,256,256]", "env.n_envs=8", "train.total_steps=123456",
        "train.eval_every=4096", "agent.hyperparams.gae_lambda=0.925", "agent.hyperparams.n_epochs=7",
        "agent.hyperparams.ent_coef=0.0125", "agent.hyperparams.vf_coef=0.375"]


@pytest.mark.parametrize("n", [7, 8])
def test_a_long_description_keeps_seeds_and_variants_apart(n):
    who = {(seed, lr): identity(rlgen.load_config("ppo_cartpole", [*LONG[:n], f"seed={seed}", f"optim.lr={lr}"]))
           for seed in (0, 4294967295) for lr in ("3e-4", "1e-3")}
    for (seed, _), w in who.items():
        assert len(w.name) <= 128 and len(w.group) <= 128 and all(len(t) <= 64 for t in w.tags)
        assert w.name.endswith(f" s{seed}")  # the seed is never cut
    assert len({w.name for w in who.values()}) == 4
    # the seeds of one variant share a group; the two learning rates, cut at the same place, do not
    assert who[0, "3e-4"].group == who[4294967295, "3e-4"].group != who[0, "1e-3"].group
    assert who[0, "3e-4"].group.startswith("ppo_cartpole total_steps=123456")


def test_a_long_tag_is_cut_apart_from_its_neighbours():
    cfgs = [rlgen.load_config("ppo_cartpole", [f"agent.policy.backbone.hidden=[{','.join(['256'] * 14)},{h}]"])
            for h in (64, 32)]
    (a,), (b,) = (identity(c).tags for c in cfgs)
    assert len(a) == len(b) == 64 and a != b and a.startswith("hidden=[256,256,")


def test_what_a_worker_sets_for_its_own_machine_never_tells_variants_apart():
    """The keys `rlgen compare` never groups by (one list, rlgen.compare_groups.IGNORED_KEYS): seed-queue
    workers that set them for their own machine join one queue, and so one W&B group."""
    who = identity(rlgen.load_config("ppo_cartpole", ["env.vectorize=subproc", "train.checkpoint_every=999",
                                                      "train.keep_checkpoints=1"]))
    assert (who.group, who.tags) == ("ppo_cartpole", [])


def _own_file(tmp_path, name="my_ppo", lr="3.0e-4"):
    """A config file of the user's own: ppo_cartpole's, under `name`, with `lr` in it."""
    text = (config_path("ppo_cartpole").read_text().replace("name: ppo_cartpole", f"name: {name}")
            .replace("lr: 4.0e-3", f"lr: {lr}"))
    (path := tmp_path / f"{name}.yaml").write_text(text)
    return str(path)


def test_the_overrides_of_a_config_file_of_ones_own_name_the_run(tmp_path):
    """They were told from a bundled config of the same name only: `rlgen train my_ppo.yaml
    optim.lr=1e-3` and `optim.lr=5e-4` shared the W&B group `my_ppo`."""
    path = _own_file(tmp_path)
    who = identity(rlgen.load_config(path, ["optim.lr=1e-3", "seed=1"]))
    assert (who.name, who.group, who.tags) == ("my_ppo lr=0.001 s1", "my_ppo lr=0.001", ["lr=0.001"])
    assert identity(rlgen.load_config(path, ["seed=1"])).group == "my_ppo"  # the file as it is
    # `rlgen train FILE --seeds`: each seed's config is loaded, then loaded again to train
    again = rlgen.load_config(rlgen.load_config(path, ["optim.lr=1e-3", "seed=2"]))
    assert identity(again).group == "my_ppo lr=0.001"


def test_a_copy_of_a_bundled_config_under_its_name_is_told_from_the_bundled_one(tmp_path):
    """The file's own edits show, as before: it does not join the bundled config's W&B group."""
    path = _own_file(tmp_path, name="ppo_cartpole", lr="1.0e-3")
    assert identity(rlgen.load_config(path, ["agent.hyperparams.gamma=0.98"])).tags == ["gamma=0.98", "lr=0.001"]


def test_a_runs_config_yaml_keeps_no_base(tmp_path):
    """Its file holds the overrides already: a resume's name is the one its first W&B start kept
    (tests/test_run_files.py), not one with no overrides."""
    from rlgen.config import save_config

    save_config(rlgen.load_config(_own_file(tmp_path), ["optim.lr=1e-3"]), tmp_path / "config.yaml")
    assert run_config(tmp_path)._base is None

"""`rlgen.testing.check_experiment`'s own arguments, a reused workdir, and a kind whose setup
draws from an unseeded source."""

import numpy as np
import pytest

from rlgen.errors import RlgenError
from rlgen.testing import ExperimentCheckError, check_experiment
from tests.runner.toy import ToyExperiment, toy_config


def test_a_reused_workdir_checks_afresh(tmp_path):
    """The second check loaded the first one's newest checkpoint (step 50), not its own (step 20)."""
    workdir = tmp_path / "work"
    check_experiment(ToyExperiment, toy_config(tmp_path), units=5, workdir=workdir)
    assert check_experiment(ToyExperiment, toy_config(tmp_path), units=2, workdir=workdir).exact


class UnseededToy(ToyExperiment):
    """Draws its generator's seed from the OS at setup; saves and restores it, so it resumes exactly
    while two runs of one seed differ."""

    def setup(self, ctx):
        super().setup(ctx)
        self.rng = np.random.default_rng()

    def state_dict(self):
        return {**super().state_dict(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.rng.bit_generator.state = state["rng"]


def test_a_setup_that_draws_from_an_unseeded_source_is_named(tmp_path):
    with pytest.raises(ExperimentCheckError) as e:
        check_experiment(UnseededToy, toy_config(tmp_path))
    said = str(e.value)
    assert "  - rng.state.state differs between two setups with seed 0 (" in said
    assert "setup() draws from an unseeded source" in said and "seed it from ctx.seed" in said


@pytest.mark.parametrize("given, said", [
    ({"overrides": "toy.unit=3"}, "overrides is a list of 'key=value' strings, e.g. ['seed=1'], not str 'toy.unit=3'"),
    ({"units": 2.5}, "rlgen.testing.check_experiment: units must be a whole number >= 1, not float 2.5"),
    ({"units": "3"}, "rlgen.testing.check_experiment: units must be a whole number >= 1, not str '3'"),
    ({"units": 0}, "rlgen.testing.check_experiment: units must be a whole number >= 1, not int 0"),
    ({"exact": "false"}, "rlgen.testing.check_experiment: exact must be True or False, not str 'false'"),
    ({"exact": None}, "rlgen.testing.check_experiment: exact must be True or False, not NoneType None"),
    ({"workdir": "FILE"}, "rlgen.testing.check_experiment: workdir {file} is not a directory; give a directory (made "
                          "if missing), or no workdir for a temporary one"),
    ({"workdir": "FILE/below"}, "rlgen.testing.check_experiment: cannot make workdir {file}/below: {file} is a file, "
                                "so no folder can be made there or under it: give another path"),
])
def test_a_bad_argument_is_one_line_and_changes_no_file(tmp_path, given, said):
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    given = {k: v.replace("FILE", str(file)) if k == "workdir" else v for k, v in given.items()}
    with pytest.raises(RlgenError) as e:
        check_experiment(ToyExperiment, toy_config(tmp_path), **given)
    assert str(e.value) == said.format(file=file)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"] and file.read_text() == "mine"

# make demo | make test | make bench  (the README's commands)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt
EXTRAS ?= dev,atari,box2d,minatar

.PHONY: help demo test test-serial test-fast bench bench-all gpu-carry install clean

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel
	$(PIP) -e ".[$(EXTRAS)]"
	@# rl-zoo3's hyperparameter files (rlgen train zoo:...) and its enjoy; --no-deps: see pyproject's zoo extra
	$(PIP) --no-deps rl_zoo3
	@# a build can leave rlgen.egg-info here; on sys.path (the checkout) its stale entry points would shadow the install's,
	@# and its build/ would ship stale modules in a later `pip wheel .` (setuptools reuses it)
	rm -rf rlgen.egg-info build
	touch $@

install: $(VENV)/.installed  ## the virtual environment in .venv, from constraints.txt (the other targets make it)

help:  ## this list: the targets and what each does
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: install  ## train PPO on CartPole-v1 until solved
	$(VENV)/bin/rlgen train configs/ppo_cartpole.yaml

# the suite in parallel, one worker per core up to 4 (pytest-xdist): each test has its own tmp_path,
# database and ports, so none depends on another's order or process
test: install  ## the whole suite, slow learning tests included (what CI runs)
	$(PY) -m pytest -q -n auto --maxprocesses 4

test-serial: install  ## the whole suite in one process
	$(PY) -m pytest -q

test-fast: install  ## skip the slow learning tests
	$(PY) -m pytest -q -n auto --maxprocesses 4 -m "not slow"

bench: install  ## CartPole: rlgen vs raw SB3, time to solve and steps/s (~3 minutes; prints ratios)
	$(PY) benchmarks/cartpole_time_to_solve.py

# all but teams.py (three 600k-step runs: hours) and gpu.py (a GPU's; see the README's GPU section), each in
# turn: one that fails (gan_digits.py exits 1 when a config misses on a seed) stops none after it, and the
# failures are listed at the end; Ctrl-C (exit 128 + the signal) stops them all
BENCH_ALL = cartpole_time_to_solve.py "gan_ring.py --steps 20000 --plain-steps 500" \
	"gan_ring.py --speed-rounds 4 --steps 1000" gan_digits.py configs_on_seeds.py memory.py selfplay.py zoo.py \
	scale.py transfer.py reliability.py imitation.py

bench-all: install  ## every CPU benchmark but teams.py, all run (about three hours on 2 cores); lists failures
	@failed=""; for b in $(BENCH_ALL); do \
	  echo "$(PY) benchmarks/$$b"; \
	  $(PY) benchmarks/$$b || { code=$$?; [ $$code -lt 128 ] || exit $$code; failed="$$failed  $$b (exit $$code)\n"; }; \
	done; \
	if [ -n "$$failed" ]; then printf "bench-all: these benchmarks failed:\n$$failed"; exit 1; fi

gpu-carry: install  ## .whl/: Python 3.12 wheels of rlgen and its dependencies for a GPU machine without internet (README: GPU)
	$(PY) benchmarks/gpu_carry.py

clean:  ## remove runs/, wandb/ and pytest's cache
	rm -rf runs wandb .pytest_cache

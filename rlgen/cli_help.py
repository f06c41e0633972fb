"""What `rlgen COMMAND -h` shows under its options: examples of each command (and help that several
commands share)."""

TRUST_HELP = ("open a run whose checkpoint is in the old pickled format (only its numpy, gymnasium and SB3 objects "
              "are read) or whose config names code by import path (which imports and runs that code): only for "
              "runs you trust (other runs never need it)")

EXAMPLES = """\
examples:
  rlgen train ppo_cartpole                              train the demo, a bundled config (PPO, CartPole-v1)
  rlgen train ppo_cartpole seed=3 train.total_steps=5e4 a bundled config, with overrides
  rlgen train my_config.yaml                            a YAML file of your own (`rlgen list`: the bundled names)
  rlgen train ppo_cartpole agent.policy.backbone.hidden=[128,128] logging.wandb.mode=disabled
  rlgen train --resume runs/ppo_cartpole/20261121-101500-s0-ab12   continue an interrupted run
  rlgen train ppo_cartpole --seeds 0,1,2 --parallel 2   three seeds, two processes at a time, one W&B group
  rlgen train ppo_cartpole --seeds 0-19 --storage postgresql://user@host/db   one worker of a seed queue
  rlgen compare runs/ppo_cartpole --threshold 475        seeds/configs side by side (see rlgen compare -h)
  rlgen eval runs/ppo_cartpole/20261121-101500-s0-ab12 --episodes 20 --video
  rlgen record runs/ppo_cartpole/20261121-101500-s0-ab12 --episodes 10 --out demos/cartpole   expert demos
  rlgen train gail_cartpole demos.path=demos/cartpole     imitate them (GAIL; also bc_cartpole, airl_cartpole)
  rlgen play runs/selfplay_tictactoe/<id> --seat second   play the trained agent in the terminal
  rlgen tournament runs/selfplay_connect_four/*          Elo ratings of runs against each other
  rlgen inspect runs/autoencoder_digits                 a run's roles and backbone shapes (for init:)
  rlgen list                                            configs, kinds, sources, games, backbones, wrappers, envs
  rlgen train zoo:ppo/LunarLander-v3                    rl-zoo3's tuned hyperparameters (pip install --no-deps rl_zoo3)
  rlgen import-zoo dqn CartPole-v1 -o dqn_cartpole.yaml the same, written as an rlgen config to edit
  rlgen export runs/ppo_cartpole/<id> --format sb3      model.zip for PPO.load and rl-zoo3's enjoy (also onnx, torchscript)
"""

COMPARE_EXAMPLES = """\
examples:
  rlgen compare runs/ppo_cartpole                       every run of one config (seeds -> one group)
  rlgen compare 'runs/ppo_cartpole_*/*' --threshold 475 configs against each other, steps/time to 475
  rlgen compare runs/ppo_* --by agent.policy.backbone.type --out docs/backbones.png
  rlgen compare runs/gan_ring --metric gan/loss_d --mode min
  rlgen compare runs/ppo_* --wandb                       also log the table and plot to W&B (offline)
  rlgen compare runs/ppo_* --leet runs/leet && wandb leet runs/leet    browse the same runs in W&B's local UI
"""

SWEEP_EXAMPLES = """\
examples:
  rlgen sweep configs/sweeps/ppo_cartpole.yaml          run the study (SQLite in runs/<study>/study.db)
  rlgen sweep configs/sweeps/ppo_cartpole.yaml train.total_steps=20000 --n-trials 10
  rlgen sweep configs/sweeps/ppo_cartpole.yaml --storage postgresql://user@host/optuna   one study, many machines
  rlgen sweep configs/sweeps/ppo_cartpole.yaml --status  its trials: states, values, workers, the best
  rlgen train runs/ppo_cartpole_sweep/best.yaml --seeds 0,1,2   the winner, three seeds
  rlgen compare runs/ppo_cartpole_sweep                 every trial side by side
"""

EVAL_EXAMPLES = """\
examples:
  rlgen eval runs/ppo_cartpole/20261121-101500-s0-ab12                  a finished run: its best checkpoint
  rlgen eval runs/ppo_cartpole/20261121-101500-s0-ab12 --episodes 50 --video   more episodes, one filmed
  rlgen eval runs/ppo_cartpole/20261121-101500-s0-ab12 --checkpoint step_20480  one checkpoint of the run
"""

INSPECT_EXAMPLES = """\
examples:
  rlgen inspect runs/autoencoder_digits                 the newest finished run of a config: roles and shapes
  rlgen inspect runs/gan_digits_dcgan/<id> --tensors    every tensor of each backbone, for an init: of your own
"""

EXPORT_EXAMPLES = """\
examples:
  rlgen export runs/ppo_cartpole/<id> --format sb3      RUN_DIR/export/model.zip (+ vecnormalize.pkl) for PPO.load
  rlgen export runs/ppo_cartpole/<id> --format onnx -o out/   out/policy.onnx: observation -> action
  rlgen export runs/gan_ring8/<id> --format torchscript --checkpoint best   the generator: noise -> samples
"""

IMPORT_ZOO_EXAMPLES = """\
examples:
  rlgen import-zoo ppo LunarLander-v3                   print rl-zoo3's entry as an rlgen config
  rlgen import-zoo dqn CartPole-v1 -o dqn_cartpole.yaml write it to a file to edit, then rlgen train dqn_cartpole.yaml
  rlgen import-zoo sac MyEnv-v0 --file hyperparams/sac.yml   from a hyperparameter file of your own
"""

RECORD_EXAMPLES = """\
examples:
  rlgen record runs/ppo_cartpole/<id> --episodes 10 --out demos/cartpole   a Minari dataset of 10 episodes
  rlgen record runs/sac_pendulum/<id> --episodes 20 --out demos/pendulum.npz --stochastic   sampled actions, .npz
  rlgen train gail_cartpole demos.path=demos/cartpole   imitate them
"""

TOURNAMENT_EXAMPLES = """\
examples:
  rlgen tournament runs/selfplay_connect_four/*         every run against every other and the references
  rlgen tournament runs/selfplay_tictactoe/<id> --snapshots --games 40   a run against its own snapshot pool
"""

PLAY_EXAMPLES = """\
examples:
  rlgen play runs/selfplay_tictactoe/<id>               you move first; type a move's number, q to quit
  rlgen play runs/selfplay_connect_four/<id> --seat second --checkpoint latest
"""

LIST_EXAMPLES = """\
examples:
  rlgen list                                            configs, kinds, sources, games, backbones, wrappers, envs
  rlgen list --all | grep -i minatar                    every registered env id, searched
"""

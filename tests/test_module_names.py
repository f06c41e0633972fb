"""What each module exported before it was split into parts (STYLE: files under ~400 lines) still
imports from it: users and plugins name rlgen.checkpoint.X, rlgen.config.X and the rest."""

from __future__ import annotations

import importlib

import pytest

BEFORE_THE_SPLIT = {
    "rlgen.checkpoint": [
        "BEST", "CHECKSUM", "CHOICES", "FINISHED", "FORMAT", "LATEST", "NEW_ONLY", "OLD_FORMAT_GLOBALS",
        "RESUME_ONLY", "STATE", "TRUST_HINT", "UnsafeCheckpointError", "best", "candidates", "count", "latest",
        "load", "mark_best", "model_only", "read", "resuming", "run_status", "save", "select", "step_of", "to_use",
        "trusted", "unpickle",
    ],
    "rlgen.config": [
        "Activation", "BackboneBase", "BackboneConfig", "CNNBackbone", "CustomBackbone", "EarlyStopConfig",
        "EnvConfig", "ExperimentConfig", "HistoryConfig", "InitConfig", "LocalPath", "LoggingConfig", "MAX_COUNT",
        "MAX_SEED", "MLPBackbone", "Norm", "NormalizeConfig", "OptimConfig", "Pool", "RNNBackbone", "STUDY_NAME",
        "Section", "TrainConfig", "TransformerBackbone", "WandbConfig", "backbone_union", "device_problem",
        "finite_numbers", "is_study_name", "nan_values", "whole_count",
    ],
    "rlgen.envs.demo_formats": ["MinariFormat", "NpzFormat", "env_spec_problem", "env_spec_shape_problem",
                                "minari_dataset_id", "minari_metadata", "minari_root"],
    "rlgen.api": [
        "CheckedAgent", "ConfigSource", "RESUMABLE", "Run", "bundled_configs", "config_path", "kind_of",
        "load_config", "load_run", "make_experiment", "named_config", "observation_problem", "record", "run_config",
        "train", "untrusted_unless", "zoo_config",
    ],
    "rlgen.runner": [
        "Runner", "eval_mode",
    ],
    "rlgen.sweep": [  # before the sweep file's schema moved into rlgen.sweep_spec: what it defined and imported
        "CategoricalParam", "ConfigError", "ExperimentConfig", "FloatParam", "HeartbeatConfig", "IntParam", "Loader",
        "MAX_COUNT", "MAX_LEN", "Param", "PrunerSpec", "RlgenError", "STUDY_NAME", "SamplerSpec", "Section",
        "StudyProgress", "Sweep", "SweepConfig", "build", "bundled_sweeps", "check_study", "clip", "compare_command",
        "console", "describe", "first_attempt", "is_study_name", "open_study", "read_sweep", "run_value", "sampler",
        "save_config", "shell_line", "short", "shown_url", "status_table", "suggest", "sweep_path", "train_trial",
        "whole_count", "work",
    ],
    "rlgen.cli": [
        "TRUST_HELP", "cmd_compare", "cmd_eval", "cmd_export", "cmd_import_zoo", "cmd_inspect", "cmd_list",
        "cmd_play", "cmd_record", "cmd_sweep", "cmd_tournament", "cmd_train", "main", "train_seeds",
    ],
    "rlgen.envs.datasets": [  # before the checks of a source moved into rlgen.envs.source_checks
        "ArrayData", "Batch", "F", "Mixture", "RlgenError", "SOURCES", "Sines", "Split", "SwissRoll", "as_policy_reads",
        "channel_last", "check_batch", "check_rows_are_samples", "declares", "digits", "first_line", "frames",
        "friedman1", "gaussian", "grid25", "make_source", "modality_of", "observations", "ring8", "sample_from",
        "shape_problems",
    ],
    "rlgen.agents.rl.sb3_bridge": [  # before sb3_metrics and frozen_targets moved out of it
        "ACTIVATIONS", "BackboneExtractor", "Diverged", "LearningRate", "LinearSchedule", "MetricsOutput",
        "OptimConfig", "PolicyConfig", "Progress", "RlgenError", "SB3Learner", "SB3_ON_POLICY_ADAM_EPS",
        "UNDEFINED_AS_NAN", "apply_init", "backbone_traits", "build_backbone", "first_line", "gpu_by_choice",
        "integral_counts", "keep_frozen_out_of_targets", "no_distribution_checks", "policy_kwargs", "rebuild",
        "resolve_schedules", "space_problem", "transfer_and_regularize",
    ],
    "rlgen.envs.demos": ["Demos", "Policy", "gym_mask", "random_return", "read_demos", "record_episodes",  # before
                         "write_demos"],  # recording moved into rlgen.envs.recording
    "rlgen.study_queue": ["RETRY_OF", "first_attempt", "run_value", "train_trial", "work"],  # before rlgen.study_trial
    "rlgen.logging": ["WandbSink", "finish_wandb_in"],  # before the W&B sink moved into rlgen.logging_wandb
    "rlgen.registry": [  # before what a name points to moved into rlgen.registry_entry
        "BACKBONES", "DEMOS", "DEMO_METHODS", "ENV_PACKAGES", "Entry", "GAMES", "KINDS", "Registry", "SOURCES",
        "TABLES", "WRAPPERS", "check_import_allowed", "describe", "env_package_of", "import_failed",
        "is_import_path", "load_env_packages", "registered_names_only", "resolve",
    ],
    "rlgen.testing": [  # before how two runs differ moved into rlgen.testing_diff
        "CheckReport", "ExperimentCheckError", "MAX_LINES", "METRIC_PREFIXES", "PROTOCOL_METHODS",
        "check_experiment", "is_problem_list", "misplaced_early_stop",
    ],
    "rlgen.compare": [  # before grouping moved into rlgen.compare_groups
        "AS_PLANNED", "DEFAULT_METRIC", "Group", "GroupStats", "HEADLINE", "IGNORED_KEYS", "LABEL_WIDTH",
        "Method", "Mode", "NO_SUMMARY", "RETURN_METRICS", "RlgenError", "RunData", "Stat", "TASK_KEYS",
        "WHY_UNFINISHED", "check_metric", "compare", "compare_command", "console", "curve", "drop_repeats",
        "expand", "first_reach", "flatten", "group_runs", "metric_bounds", "read_metrics", "read_run",
        "read_runs", "select_finished", "shared_early_stop", "shell_line", "stats", "summarize", "wall_time",
    ],
    "rlgen.agents.rl.experiment": [  # before its setup checks moved into rlgen.agents.rl.setup_checks
        "ALGOS", "Agent", "EPISODE_STEP_CAP", "EnvConfig", "ExperimentBase", "RLConfig", "RLExperiment",
        "RlgenError", "RunContext", "SB3Learner", "Video", "backbone_traits", "check_hyperparams",
        "check_schedules", "checkpoint", "console", "env_state", "fast_predictor", "filmed",
        "float_frames_problem", "is_off_policy", "load_model_state", "make_vec_env", "model_state",
        "new_run_env_problem", "no_distribution_checks", "normalized_images_problem", "play_episodes",
        "require_action_masks", "resolved_hyperparams", "restore_env", "schedule_problems",
        "stacked_frames_problem", "step_capped", "sync_normalization", "unused_by_recurrent_lstm",
        "video_problem", "warn_not_exact",
    ],
}


@pytest.mark.parametrize("module", sorted(BEFORE_THE_SPLIT))
def test_every_public_name_of_a_split_module_still_imports_from_it(module):
    mod = importlib.import_module(module)
    assert [name for name in BEFORE_THE_SPLIT[module] if not hasattr(mod, name)] == []

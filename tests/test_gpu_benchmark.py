"""benchmarks/gpu.py on the CPU: every section runs end to end and lands in the table and the JSON.

The GPU figures need a GPU; what CI checks is that the prepared script runs, so the first call on
a lent GPU measures instead of debugging.
"""

import json

import pytest
import torch

from tests.bench import load

gpu = load("gpu")


def test_device_auto_rows_follow_the_rule(tmp_path, capsys):
    out = tmp_path / "auto.json"
    assert gpu.main(["--device", "cpu", "--quick", "--only", "auto", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    rows = doc["rows"]
    assert [r["arm"] for r in rows] == list(gpu.AUTO_EXPECTED)
    assert all(r["check"] == "ok" and r["device"] == "cpu" for r in rows)
    assert {r["arm"] for r in rows if r["quality"]["prefers_accelerator"]} == {
        c for c, on_gpu in gpu.AUTO_EXPECTED.items() if on_gpu}
    printed = capsys.readouterr().out
    assert "section | arm" in printed and all(c in printed for c in gpu.AUTO_EXPECTED)


def test_a_wrong_preference_fails_its_row(monkeypatch, tmp_path):
    monkeypatch.setitem(gpu.AUTO_EXPECTED, "ppo_cartpole", True)  # claim the MLP agent belongs on a GPU
    assert gpu.main(["--device", "cpu", "--only", "auto"]) == 1


def test_ratios_are_to_the_first_arm_and_a_reference_heads_its_section(tmp_path):
    settings = {"config": "ppo_cnn_pong", "env": "ALE/Pong-v5", "steps": 4096, "quick": False}
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"host": "buildbox", "rows": [
        {"section": "ppo_cnn", "arm": "cpu, 1 thread(s)", "device": "cpu", "speed": 150.0, "unit": "env steps/s",
         "quality": {}, "settings": settings},
        {"section": "ppo_cnn", "arm": "cpu", "device": "cpu", "speed": 200.0, "unit": "env steps/s",
         "quality": {}, "settings": settings},  # the fastest CPU arm is the baseline
        {"section": "ppo_transformer", "arm": "cpu", "device": "cpu", "speed": 900.0, "unit": "env steps/s",
         "quality": {}, "settings": settings}]}))
    rows = gpu.reference_rows("ppo_cnn", settings, ref)
    rows += [gpu.Row("ppo_cnn", "cpu, 1 thread(s)", "cpu", 300.0, settings=settings),
             gpu.Row("ppo_cnn", "cuda", "cuda:0", 900.0, settings=settings)]
    gpu.add_ratios(rows)
    assert rows[0].arm == "reference: cpu on buildbox" and rows[0].note == "same settings"
    assert [r.ratio for r in rows] == [1.0, 1.5, 4.5]
    assert "PPO CNN on cuda:0: 4.50x reference: cpu on buildbox (target 2x: met)" in gpu.targets(rows)
    other = gpu.reference_rows("ppo_cnn", {**settings, "steps": 128}, ref)
    assert other[0].note.startswith("SETTINGS DIFFER")


def test_a_reference_of_other_settings_meets_or_misses_no_target(tmp_path):
    """A reference run on another env or budget measured another thing: its ratio scores nothing."""
    settings = {"config": "ppo_cnn_pong", "env": "ALE/Pong-v5", "steps": 4096, "quick": False}
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"host": "buildbox", "rows": [
        {"section": "ppo_cnn", "arm": "cpu", "device": "cpu", "speed": 100.0, "unit": "env steps/s", "quality": {},
         "settings": settings}]}))
    here = {**settings, "env": "MinAtar/Breakout-v1"}
    rows = [*gpu.reference_rows("ppo_cnn", here, ref), gpu.Row("ppo_cnn", "cuda", "cuda:0", 900.0, settings=here)]
    gpu.add_ratios(rows)
    (line,) = gpu.targets(rows)
    assert "(not comparable: settings differ)" in line and "met" not in line, line


def test_the_pixel_env_is_the_references_unless_asked(monkeypatch):
    """MinAtar's being installed (it is, with the minatar extra) switched the env the shipped
    reference, ALE Pong, was measured on."""
    reference = json.loads((gpu.Path(gpu.__file__).parent / "gpu_reference_cpu.json").read_text())
    envs = {r["settings"]["env"] for r in reference["rows"] if r["section"] == "ppo_cnn"}
    args = gpu.parse(["--device", "cpu"])
    assert envs == {"ALE/Pong-v5"} and gpu.pixel_env(args.pixel_env)[2] == "ALE/Pong-v5"
    assert gpu.pixel_env(gpu.parse(["--pixel-env", "minatar"]).pixel_env)[2] == "MinAtar/Breakout-v1"


def test_dcgan_target_line_reads_speed_and_quality():
    rows = [gpu.Row("gan_dcgan", "fp32 eager", "cuda:0", 400.0, quality={"best_frechet": 9.0}),
            gpu.Row("gan_dcgan", "bf16 + compile", "cuda:0", 500.0, quality={"best_frechet": 8.0})]
    gpu.add_ratios(rows)
    (line,) = gpu.targets(rows)
    assert "1.25x fp32 eager (target 1.5x: missed)" in line and "best Fréchet 8 vs fp32 9" in line
    for r in rows:
        r.device = "cpu"
    assert "(target 1.5x is for a GPU)" in gpu.targets(rows)[0]


@pytest.mark.slow
def test_every_section_runs_on_the_cpu(tmp_path, monkeypatch):
    """The whole script with --device cpu --quick (torchrun with gloo in subprocesses). Inductor
    takes minutes on a 2-core CPU, so compile uses aot_eager: the same graph capture and AOT
    autograd, without code generation."""
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m, mode=None, **kw: real_compile(m, backend="aot_eager"))
    out = tmp_path / "cpu.json"
    code = gpu.main(["--device", "cpu", "--quick", "--out", str(out)])
    rows = json.loads(out.read_text())["rows"]
    failed = [r for r in rows if r["check"] == "FAIL"]
    assert code == 0 and not failed, failed
    by = {}
    for r in rows:
        by.setdefault(r["section"], []).append(r)
    assert set(by) == set(gpu.SECTIONS)
    assert by["torchrun"][0]["quality"]["backend"] == "gloo" and by["torchrun"][0]["quality"]["resumed_to"] == 20
    for section, metric in (("gan_dcgan", "frechet"), ("gan_transformer", "mmd")):
        assert [r["arm"] for r in by[section]] == ["fp32 eager", "bf16 autocast", "bf16 + compile"]
        assert all(r["speed"] > 0 and r["quality"][metric] is not None for r in by[section])
        assert by[section][0]["ratio"] == 1.0
    for section in ("ppo_cnn", "ppo_transformer"):
        assert [r["arm"] for r in by[section]] == ["cpu, 1 thread(s)", "cpu"]
        assert all(r["speed"] > 0 and r["ratio"] is not None for r in by[section])

"""``benchmarks/gpu.py`` stays runnable where there is no GPU: ``--cpu --small`` on PyTorch CPU tensors.

The script checks each gradient on the device against NumPy's before it times it; run here in
its smallest setting (the workloads' smallest sizes, one repeat), in a process of its own as a
user runs it, and in this one with a wrong device result, which it must report (exit status 1).
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"
SMALLEST = ["--cpu", "--small", "--repeats", "1"]


def test_runs_on_torch_cpu_in_its_smallest_setting():
    done = subprocess.run([sys.executable, str(SCRIPT), *SMALLEST], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| mlp |") or line.startswith("| rnn |")]
    assert [r.split("|")[2].strip() for r in rows] == ["torch (CPU)", "torch (CPU)"]
    for row in rows:
        assert float(row.split("|")[-2]) < 1e-9  # the max abs difference from NumPy's gradient


def _module():
    spec = importlib.util.spec_from_file_location("gpu_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_wrong_result_on_the_device_fails(monkeypatch, capsys):
    gpu = _module()
    monkeypatch.setattr(gpu, "_torch", lambda device="cuda": ("torch (CPU)", torch.asarray, lambda: None, _off))
    assert gpu.main(SMALLEST) == 1
    assert "| mlp | torch (CPU) |" in capsys.readouterr().out


def _off(a):
    return a.numpy() + 1e-6

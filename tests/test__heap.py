"""glibc heap tuning (aioweb._heap), checked in fresh interpreters."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/maps") or sys.platform != "linux", reason="needs Linux"
)

PROBE = """
import resource
from aioweb import web
from aioweb._heap import tune_heap
web.Server(lambda request: None)
def churn():  # 40 connections' 64 KiB buffers allocated, then freed, 50 times
    for _ in range(50):
        buffers = [b"x" * 65536 for _ in range(40)]
        del buffers
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(tune_heap(), faults)
"""


def _run_probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "AIOWEB_"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _glibc() -> bool:
    import ctypes

    return hasattr(ctypes.CDLL(None), "gnu_get_libc_version")


@pytest.mark.skipif(not _glibc(), reason="glibc only")
def test_a_server_stops_the_heap_refaulting_freed_buffers() -> None:
    tuned, faults = _run_probe().split()
    assert tuned == "True"
    assert int(faults) < 100  # 2,000 buffers of 64 KiB, reused in place


@pytest.mark.parametrize(
    "setting",
    ["AIOWEB_NO_HEAP_TUNING", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"],
)
def test_the_operator_setting_wins(setting: str) -> None:
    tuned, _ = _run_probe(**{setting: "1048576"}).split()
    assert tuned == "False"


@pytest.mark.skipif(not _glibc(), reason="glibc only")
def test_untuned_heap_refaults_for_comparison() -> None:
    # Shows the probe can fail: glibc's defaults trim and refault every round.
    tuned, faults = _run_probe(AIOWEB_NO_HEAP_TUNING="1").split()
    assert tuned == "False" and int(faults) > 5_000

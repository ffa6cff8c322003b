"""Every script in examples/ runs on small sizes (``--small``), so the examples cannot rot."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_small(script: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    if script.name in ("deploy_network.py",):
        pytest.importorskip("torch")
    argv = [str(script), "--small"]
    if "--out" in script.read_text():
        argv += ["--out", str(tmp_path / "out")]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out
    assert printed.strip(), "the example printed nothing"
    if script.name == "reproduce_subset.py":
        assert (tmp_path / "out" / "report.html").is_file()
        assert "P2_thresholds set_mean_v" in printed

"""The documentation's relative links resolve, and the README keeps its two commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_readme_keeps_the_two_commands_and_points_to_the_docs() -> None:
    text = (ROOT / "README.md").read_text()
    assert "## Two commands" in text
    assert "make demo" in text and "make test" in text
    assert "docs/README.md" in text and "docs/reproduce.md" in text
    makefile = (ROOT / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile


def test_docs_cover_every_reproduce_entry() -> None:
    from xbarsim.reproduce import EXPERIMENTS

    text = (ROOT / "docs" / "reproduce.md").read_text()
    assert all(f"`{e.id}`" in text for e in EXPERIMENTS)


DEPLOY_PAGE = ROOT / "docs" / "howto" / "deploy-your-model.md"


def test_deploy_your_model_page_runs_every_snippet(tmp_path: Path, monkeypatch) -> None:
    """The python blocks run in order in one namespace; every ``$ xbarsim`` line runs and
    exits 0 (in a scratch directory)."""
    pytest.importorskip("torch")
    import shlex

    from xbarsim.cli import main

    text = DEPLOY_PAGE.read_text()
    blocks = re.findall(r"```(python|console)\n(.*?)```", text, flags=re.S)
    assert [k for k, _ in blocks].count("python") >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for kind, body in blocks:
        if kind == "python":
            exec(compile(body, str(DEPLOY_PAGE), "exec"), namespace)
            continue
        for line in body.splitlines():
            if line.startswith("$ xbarsim "):
                assert main(shlex.split(line[len("$ xbarsim "):])) == 0, line
    assert (tmp_path / "chip.yaml").is_file()
    assert (tmp_path / "evaluation" / "results.json").is_file()

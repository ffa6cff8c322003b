"""The package stands alone: version in one place, licence and citation files, a wheel that
builds without writing into the source tree, and no references to documents outside it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from xbarsim import __version__
from xbarsim.cli import main

ROOT = Path(__file__).parent.parent
#: Words that point at the project's working notes, which are not part of the repository.
FORBIDDEN = re.compile(
    r"\.\./shared|shared/|specs?[/ ]\w+\.md|seeds/|DESIGN\.md|DESIGN section|spec E"
    r"|issue 1\d?\b|thesis L\d|\(L\d{3}"  # line numbers of a text copy of the thesis
)

def _shipped_text_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "CITATION.cff"]
    for folder in ("docs", "examples", "src"):
        files += [p for p in (ROOT / folder).rglob("*")
                  if p.is_file() and p.suffix in {".md", ".py", ".yaml", ".json", ".toml"}]
    return files


def test_version_is_written_once_and_printed(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"xbarsim {__version__}"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert re.search(r'^version\s*=', pyproject, re.M) is None
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(citation["version"]) == __version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{__version__}]" in changelog and "## [Unreleased]" in changelog


def test_licence_and_citation_name_the_source_documents() -> None:
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    titles = {ref["title"] for ref in citation["references"]}
    assert titles == {
        "4K-Memristor Analog-Grade Passive Crossbar Circuit",
        "Energy-Efficient Neuromorphic Computing with CMOS-Integrated Memristive Crossbars",
    }
    for page in (ROOT / "README.md", ROOT / "docs" / "README.md"):
        text = " ".join(page.read_text().split())
        assert '"4K-Memristor Analog-Grade Passive Crossbar Circuit"' in text, page
        assert "https://escholarship.org/uc/item/4jp0w0jc" in text, page
        assert "Z. Fahimi" in text and "D. B. Strukov" in text, page


def test_nothing_refers_to_documents_outside_the_repository() -> None:
    hits = []
    for path in _shipped_text_files():
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{rel}:{number}: {line.strip()[:80]}")
    assert not hits, "\n".join(hits)


def test_the_check_finds_what_it_looks_for() -> None:
    assert FORBIDDEN.search("see ../shared/DESIGN.md")
    assert FORBIDDEN.search("(spec E 1.2)") and FORBIDDEN.search("see issue 10")
    assert FORBIDDEN.search("specs/circuits.md §5.2") and FORBIDDEN.search("seeds/000_x.txt")
    assert FORBIDDEN.search("(spec circuits.md 3.1)") and FORBIDDEN.search("(thesis L942)")
    assert not FORBIDDEN.search("thesis 4.1.2a, Fig. 48 (L = 64)")
    assert not FORBIDDEN.search("the thesis's Fig. 28 (issue of the journal)")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_wheel_builds_without_writing_into_the_source_tree(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")

    def tree() -> str:
        return subprocess.run(["git", "status", "--porcelain", "--ignored", "--", "."],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout

    before = tree()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True,
                   timeout=120)
    assert tree() == before
    (wheel,) = tmp_path.glob("xbarsim-*.whl")
    assert wheel.name.startswith(f"xbarsim-{__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "xbarsim/experiments/published.yaml" in names and "xbarsim/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)

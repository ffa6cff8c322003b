"""The reproduce page in a real browser: headless Chromium (skipped where it is missing).

A checking script is appended to a copy of the page and allowed by its hash in the page's
Content-Security-Policy (which otherwise forbids every script); on ``load`` it records every
figure's rendered size (and an image's decoded width), the summary table's rows, whether the
page scrolls horizontally in a 1,280 px window and whether a script the policy does not
allow ran, into a body attribute, which ``--dump-dom`` returns. Console messages come from
Chromium's log on stderr. A control page with a broken image and a console error shows the
check can fail.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reproduce_fixtures import synthetic_store
from xbarsim.experiments.published import published
from xbarsim.reproduce import write_report

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="Chromium is not installed")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
         "--window-size=1280,900"]

CHECK = """
window.addEventListener('load', function () {
  var figs = Array.from(document.querySelectorAll('.figure'));
  document.body.setAttribute('data-check', JSON.stringify({
    figures: figs.map(function (f) {
      var r = f.getBoundingClientRect();
      return [f.tagName, r.width, r.height, f.tagName === 'IMG' ? f.naturalWidth : 1];
    }),
    rows: document.querySelectorAll('#summary tbody tr').length,
    viewport: window.innerWidth,
    scroll_width: document.documentElement.scrollWidth,
    foreign_script_ran: document.body.hasAttribute('data-foreign')}));
});
"""
CHECKER = f"<script>{CHECK}</script>"
#: A script the page did not write: the policy must keep it from running.
FOREIGN = "<script>document.body.setAttribute('data-foreign', '1');</script>"


def load(page: Path, tmp: Path) -> tuple[dict, list[str]]:
    """(what the checker recorded, console lines) of ``page`` in headless Chromium."""
    checked = tmp / f"checked-{page.name}"
    digest = base64.b64encode(hashlib.sha256(CHECK.encode()).digest()).decode()
    text = page.read_text().replace("script-src &#39;none&#39;",
                                    f"script-src &#39;sha256-{digest}&#39;")
    checked.write_text(text.replace("</body>", FOREIGN + CHECKER + "</body>"))
    done = subprocess.run(
        [BROWSER, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--dump-dom",
         checked.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-check="([^"]*)"', done.stdout)
    assert found, "the checking script did not run"
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(html.unescape(found.group(1))), console


@pytest.mark.parametrize("rich", [False, True], ids=["plain", "scattered-below-resolution"])
def test_page_loads_cleanly_with_sized_figures(tmp_path: Path, rich: bool) -> None:
    store = (synthetic_store(tmp_path / "store", spread=0.001, image_accuracy=0.005) if rich
             else synthetic_store(tmp_path / "store"))
    write_report(store, tmp_path / "report.html")
    check, console = load(tmp_path / "report.html", tmp_path)
    assert [line for line in console if "Content Security Policy" not in line] == []
    assert check["foreign_script_ran"] is False
    assert check["viewport"] == 1280 and check["scroll_width"] <= 1280
    assert check["rows"] == len(published())
    assert len(check["figures"]) >= 20  # a distribution and a figure per built experiment
    for tag, width, height, natural in check["figures"]:
        assert width > 0 and height > 0 and natural > 0, tag


def test_the_check_catches_a_broken_figure_and_a_console_error(tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>c</title>'
                    '</head><body><table id="summary"><tbody><tr><td>x</td></tr></tbody>'
                    '</table><img class="figure" alt="broken" src="data:image/png;base64,AAAA">'
                    '<div style="width:1500px">wide</div>'
                    "<script>console.error('control');</script></body></html>")
    check, console = load(page, tmp_path)
    assert any("control" in line for line in console)
    assert check["rows"] == 1
    assert check["figures"][0][3] == 0
    assert check["scroll_width"] > 1280  # scrolls horizontally
    assert check["foreign_script_ran"] is True  # no policy: the foreign script runs

"""The reproduce page as a document to share: nothing a store holds can run in it.

Every text field of a store, of the summary and of the provenance is set to a script tag;
the page is parsed (not grepped) and must hold no live script, no event handler and no
URL other than ``data:image/png`` and ``#anchor``. The Content-Security-Policy allows no
script and only the page's own style (by its hash).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from reproduce_fixtures import synthetic_store
from xbarsim.cli import main
from xbarsim.experiments.chapter2 import PART_PREFIX
from xbarsim.report import reproduce_page as page
from xbarsim.report import verdicts as vd

EVIL = "<script>alert(1)</script>"
EVIL_ATTR = '"><script>alert(2)</script><img src=x onerror=alert(3)>'


class Live(HTMLParser):
    """Records what a browser would act on: script elements, handlers, URLs, CSP, style."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts = 0
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.csp: list[str] = []
        self.tags: list[str] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.scripts += tag in ("script", "iframe", "object", "embed", "base", "form")
        for key, value in attrs:
            if key.startswith("on"):
                self.handlers.append(f"{tag} {key}")
            if key in ("src", "href", "action", "formaction", "xlink:href", "srcset"):
                self.urls.append(value or "")
            if tag == "meta" and key == "content" and ("http-equiv",
                                                       "Content-Security-Policy") in attrs:
                self.csp.append(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def _png(width: int = 20, height: int = 10) -> str:
    buf = io.BytesIO()
    Image.new("L", (width, height)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _hostile_inputs() -> tuple:
    meta = {"mode": EVIL, "seed": EVIL, "version": EVIL_ATTR, "ids": [EVIL],
            "config_hashes": {EVIL: EVIL}}
    summary = [{"id": EVIL, "quantity": EVIL, "label": EVIL_ATTR, "published": EVIL,
                "ours_mean": 1.0, "ours_std": 0.1, "n": 3, "verdict": vd.GAP, "gap": 0.5,
                "rule": "value", "reason": EVIL, "command": EVIL_ATTR},
               {"id": EVIL_ATTR, "quantity": None, "label": None, "published": None,
                "ours_mean": None, "ours_std": None, "n": 0, "verdict": EVIL,
                "gap": None, "rule": None, "reason": EVIL, "command": None}]
    sections = {EVIL: page.Section(id=EVIL, setup=EVIL, settings={EVIL: EVIL_ATTR},
                                   where=EVIL, figure=EVIL_ATTR, command=EVIL)}
    rows = [{"id": EVIL, "figure": EVIL_ATTR, "png": _png()},
            {"id": EVIL, "figure": EVIL, "png": EVIL_ATTR},
            {"id": EVIL, "job": EVIL, "wall_s": 1.0, "config_hash": EVIL, "engine": EVIL_ATTR}]
    prov = {k: EVIL_ATTR for k in ("git_commit", "cpu", "gpu", "python", "numpy", "torch",
                                   "numba", "date_utc", "command")}
    values = {(EVIL, EVIL): [1.0, 1.1, 0.9]}
    old = [{**summary[0], "ours_mean": 2.0, "verdict": EVIL}]
    return meta, summary, values, sections, rows, prov, old


def _live(text: str) -> Live:
    live = Live()
    live.feed(text)
    live.close()
    return live


def test_no_text_field_of_a_store_runs_in_the_page() -> None:
    text = page.render(*_hostile_inputs())
    live = _live(text)
    assert live.scripts == 0 and live.handlers == []
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in live.urls), live.urls
    assert EVIL in html.unescape(text)  # shown as text, not dropped
    # the figure whose "png" was markup is left out, with a note; the real PNG is shown
    assert sum(u.startswith("data:image/png") for u in live.urls) == 2  # figure + distribution
    assert "is not a PNG within the page's limits" in html.unescape(text)


def test_the_control_parser_finds_a_live_script() -> None:
    live = _live(f"<p>{EVIL}</p><img src=x onerror=alert(1)>")
    assert live.scripts == 1 and live.handlers == ["img onerror"]


def test_policy_allows_no_script_and_only_the_pages_own_style() -> None:
    text = page.render(*_hostile_inputs())
    live = _live(text)
    (csp,) = live.csp
    rules = dict(r.strip().split(" ", 1) for r in csp.split(";"))
    assert rules["default-src"] == "'none'" and rules["script-src"] == "'none'"
    assert rules["img-src"] == "data:"
    digest = base64.b64encode(hashlib.sha256(live.style.encode()).digest()).decode()
    assert rules["style-src"] == f"'sha256-{digest}'"
    assert live.tags.index("meta") < live.tags.index("style")


def test_store_figures_must_be_pngs_within_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    good = _png(30, 20)
    assert page.checked_png(good) == good
    assert page.checked_png(EVIL) is None
    assert page.checked_png(base64.b64encode(b"GIF89a....").decode()) is None
    assert page.checked_png(good[:-8]) is None  # truncated: the last chunk is cut
    assert page.checked_png(12) is None
    monkeypatch.setattr(page, "MAX_FIGURE_PIXELS", 599)  # a "bomb": 30 x 20 = 600 pixels
    assert page.checked_png(good) is None


def _tamper(store: Path, key: str, edit) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = store / f"{PART_PREFIX}{key}.parquet"
    rows = [json.loads(r) for r in pq.read_table(part).column("row").to_pylist()]
    rows = [edit(r) for r in rows]
    pq.write_table(pa.table({"job": [key] * len(rows), "row": [json.dumps(r) for r in rows]}),
                   part)


def test_report_of_a_store_with_script_figure_names_and_provenance(tmp_path: Path) -> None:
    store = synthetic_store(tmp_path / "store")
    _tamper(store, "P2_thresholds",
            lambda r: {**r, "figure": EVIL, "engine": EVIL_ATTR} if "figure" in r or "job" in r
            else r)
    (store / "provenance.json").write_text(json.dumps({"command": EVIL, "cpu": EVIL_ATTR,
                                                       "date_utc": EVIL}))
    assert main(["report", str(store), "--out", str(tmp_path / "r.html")]) == 0
    live = _live((tmp_path / "r.html").read_text())
    assert live.scripts == 0 and live.handlers == []
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in live.urls)


def test_page_cites_both_sources_and_says_how_to_read_it(tmp_path: Path) -> None:
    text = page.render(*_hostile_inputs())
    plain = html.unescape(re.sub(r"<[^>]+>", " ", text))
    assert "4K-Memristor Analog-Grade Passive Crossbar Circuit" in plain
    assert "https://escholarship.org/uc/item/4jp0w0jc" in plain
    assert plain.index("Source documents") < plain.index("Summary")
    assert "How to read this page" in plain


def _simple(mode: str, quick_flags: list[bool | None]) -> str:
    meta = {"mode": mode, "seed": 0, "version": "1", "ids": ["A"], "config_hashes": {}}
    summary = []
    for k, flag in enumerate(quick_flags):
        row = {"id": "A", "quantity": f"q{k}", "label": f"q{k}", "published": 1.0,
               "ours_mean": 1.0, "ours_std": 0.0, "n": 2, "verdict": vd.WITHIN, "gap": 0.0,
               "rule": "value", "reason": None, "command": "c"}
        if flag is not None:
            row["quick"] = flag
        summary.append(row)
    sections = {"A": page.Section("A", "s", {}, "w", "f", "c")}
    prov = {"date_utc": "2026-01-02T03:04:05+00:00", "numpy": "9.9", "torch": "8.8",
            "numba": "7.7"}
    return page.render(meta, summary, {}, sections, [], prov)


def _quick_marks(text: str) -> int:
    return text.count('<span class="quick">quick</span>')


def test_quick_banner_on_the_verdicts_quick_mode_changes() -> None:
    # no flag in the rows: every verdict of a quick store is marked; none of a full store
    assert _quick_marks(_simple("quick", [None, None])) == 1 + 2 + 2  # banners, summary, rows
    assert _quick_marks(_simple("full", [None, None])) == 0
    # rows that say which verdicts quick mode changes: only those
    one = _simple("quick", [True, False])
    assert _quick_marks(one) == 1 + 2 + 1
    assert 'id="quick-banner"' in one and 'id="quick-banner"' not in _simple("full", [None])


def test_provenance_table_has_date_and_dependency_versions() -> None:
    text = _simple("full", [None])
    prov = text[text.index('id="provenance"'):]
    for key, value in (("date of the run (UTC)", "2026-01-02T03:04:05+00:00"),
                       ("numpy", "9.9"), ("torch", "8.8"), ("numba", "7.7")):
        assert f"<tr><th>{key}</th><td>{value}</td></tr>" in prov


@pytest.mark.parametrize(("size", "expected"), [((14, 4), (10, 4 * 10 / 14)), ((3, 3), (6, 6)),
                                                ((8, 5), (8, 5))])
def test_saved_figures_are_scaled_into_one_width_range(tmp_path: Path, size, expected) -> None:
    from matplotlib.figure import Figure

    from xbarsim.report.figures import save_figure

    fig = Figure(figsize=size, layout="constrained")
    fig.add_subplot().plot([0, 1], [0.998, 0.999])
    with Image.open(save_figure(fig, tmp_path / "f.png")) as img:
        assert img.size == pytest.approx((expected[0] * 120, expected[1] * 120), abs=1)


def test_distribution_figure_shows_published_value_band_and_n() -> None:
    from matplotlib.figure import Figure

    from xbarsim.report.figures import Distribution, distributions

    fig = distributions([Distribution("a (V)", [1.0, 1.1, 0.9], 1.0, 0.08, 3, published=1.2,
                                      band=(1.08, 1.32)),
                         Distribution("b", [], 5.0, 0.5, 4, published=6.0, bound=True)], "t")
    assert isinstance(fig, Figure)
    fig.canvas.draw()
    a, b = fig.axes[:2]
    assert [t.get_text() for t in a.get_xticklabels()] == ["ours, n=3"]
    assert [t.get_text() for t in b.get_xticklabels()] == ["ours, n=4"]
    assert {round(line.get_ydata()[0], 6) for line in a.lines} >= {1.2}
    assert len(a.patches) == 1 and len(b.patches) == 0  # the band is drawn where given
    assert all(t.get_text() for t in a.get_yticklabels())  # real tick labels
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["published value", "published bound", "published band"]

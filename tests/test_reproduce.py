"""``xbarsim reproduce`` / ``xbarsim report``: the store, the verdicts, the page, bad input."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reproduce_fixtures import synthetic_store
from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.chapter2 import META_NAME
from xbarsim.experiments.published import published
from xbarsim.report import verdicts as vd
from xbarsim.reproduce import runner as rp
from xbarsim.reproduce import write_report

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class StructureCheck(HTMLParser):
    """Balanced tags, one html/head/body, a doctype; records attributes and tags."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.count: dict[str, int] = {}
        self.attrs: list[tuple[str, str, str]] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.count[tag] = self.count.get(tag, 0) + 1
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


class QuantityTables(HTMLParser):
    """The rows of every section's quantity table: per section id, per row its cells, each
    ``(text, classes of the elements inside)``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, set[str]]]]] = {}
        self.section: str | None = None
        self.in_table = False
        self.cell: list | None = None
        self.summary: list[list[str]] = []
        self.in_summary = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("id")
        elif tag == "table":
            self.in_table = "quantities" in (a.get("class") or "").split()
            self.in_summary = a.get("id") == "summary"
        elif tag == "tr" and self.in_table and self.section is not None:
            self.tables.setdefault(self.section, []).append([])
        elif tag == "tr" and self.in_summary:
            self.summary.append([])
        elif tag == "td" and (self.in_table or self.in_summary):
            self.cell = ["", set()]
        elif self.cell is not None and a.get("class"):
            self.cell[1] |= set(a["class"].split())

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None:
            text = " ".join(self.cell[0].split())
            if self.in_table:
                self.tables[self.section][-1].append((text, self.cell[1]))
            else:
                self.summary[-1].append(text)
            self.cell = None
        elif tag == "table":
            self.in_table = self.in_summary = False

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell[0] += data + " "


class Rows(dict):
    """``(section id, quantity label) -> cells`` of a page's quantity tables (the label cell
    also holds the reason beneath the label)."""

    def __missing__(self, key: tuple[str, str]) -> list[tuple[str, set[str]]]:
        section, label = key
        found = [row for row in self.tables.get(section, [])
                 if row and (row[0][0] == label or row[0][0].startswith(label + " "))]
        assert len(found) == 1, (key, len(found))
        return found[0]


def quantity_rows(text: str) -> Rows:
    """The quantity table rows of a page, looked up by section and label."""
    parser = QuantityTables()
    parser.feed(text)
    rows = Rows()
    rows.tables = parser.tables
    return rows


@pytest.fixture(scope="module")
def rich_page(tmp_path_factory) -> tuple[str, list[dict], list]:
    """A page of a store whose instances scatter (a non-zero uncertainty) and whose
    accuracy quantities know the test image's worth; the distribution panels captured."""
    from xbarsim.report import figures

    tmp = tmp_path_factory.mktemp("rich")
    store = synthetic_store(tmp / "store", spread=0.001, image_accuracy=0.005)
    panels: list = []
    draw = figures.distributions

    def capture(items, title):
        panels.extend(items)
        return draw(items, title)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures, "distributions", capture)
        summary = write_report(store, tmp / "report.html")
    return (tmp / "report.html").read_text(), summary, panels


def test_page_shows_labels_uncertainty_badges_and_bands(rich_page) -> None:
    text, summary, _ = rich_page
    by = {(r["id"], r["quantity"]): r for r in summary}
    rows = quantity_rows(text)
    p3 = by["P3_image_tuning", "mean_error"]
    label, published_cell, ours_cell, n_cell, verdict_cell = rows["P3_image_tuning",
                                                                   "mean tuning error"]
    assert verdict_cell[0] == vd.WITHIN + vd.QUICK_SUFFIX == p3["verdict_label"]
    assert {"badge", "within"} <= verdict_cell[1] and "quick" not in verdict_cell[1]
    assert p3["uncertainty"] > 0.0 and p3["approx"] is True
    ours, std = ours_cell[0].split(" std ")
    assert ours == f"mean {p3['ours']:.4g} ± {p3['uncertainty']:.2g}"
    assert float(std) == pytest.approx(p3["ours_std"], rel=0.05)
    assert n_cell[0] == "3"
    tol = vd.tolerance(p3["published"], True)
    assert tol == pytest.approx(0.10 * p3["published"])
    assert published_cell[0] == f"~{p3['published']:.4g} band ± {tol:.2g}"
    assert "band" in published_cell[1]
    median = rows["T28_half_select_64", "tuning error p99, sigma 0.25"][2][0]
    assert median.startswith("median ") and " ± " in median
    beside = rows["P4_digits_perceptron", "accuracy gap at 1 % import error (the import curve)"]
    assert beside[1][0] == "-" and beside[4][0] == vd.SHOWN_BESIDE
    assert {"badge", "beside"} <= beside[4][1]
    below = by["T21_23_temperature", "convnet_rm1_worst_drop.approach3"]
    assert below["verdict"] == vd.BELOW_RESOLUTION and below["resolution"] == 0.005
    cells = rows["T21_23_temperature", "worst drop, approach 1+2+3"]
    assert cells[4][0] == f"{vd.BELOW_RESOLUTION}{vd.QUICK_SUFFIX} (one test image: 0.005)"
    assert {"badge", "belowres"} <= cells[4][1]
    budget = rows["T51_56_energy", "the printed component powers, summed, as GOp/J"]
    from xbarsim.reproduce.printed_budget import printed_power_text

    assert printed_power_text() in budget[0][0] and "sum" in budget[0][0]
    assert label[0] == "mean tuning error"
    assert budget[4][0] == vd.BY_CONSTRUCTION  # a read-back: quick mode cannot change it


def test_summary_table_names_the_source_figure(rich_page) -> None:
    text, _, _ = rich_page
    parser = QuantityTables()
    parser.feed(text)
    cells = {row[0]: row for row in parser.summary if row}
    assert cells["P3_image_tuning"][3] == "paper Fig. 3"
    assert cells["T28_half_select_64"][3] == "thesis Figs. 28-29"
    assert cells["E5_benchmarks"][3] == published()["E5_benchmarks"]["where"]
    assert len(cells) == len(published())


def test_distribution_panels_draw_the_published_band(rich_page) -> None:
    _, summary, panels = rich_page
    by_label = {p.label: p for p in panels}
    approx = by_label["mean tuning error"]
    assert approx.band == pytest.approx((0.9 * approx.published, 1.1 * approx.published))
    exact = by_label["accuracy gap, programmed chip vs software"]  # printed plainly: 5 %
    assert exact.band == pytest.approx((0.95 * 0.0187, 1.05 * 0.0187))
    near_one = by_label["devices within 5 %"]  # the band of the 2 % outside
    assert near_one.band == pytest.approx((0.98 - 0.1 * 0.02, 0.98 + 0.1 * 0.02))
    assert by_label["accuracy gap at 1 % import error (the import curve)"].band is None
    assert all(p.band is None for p in panels if p.bound)
    flags = {r["approx"] for r in summary if r["quantity"] is not None}
    assert flags == {True, False}


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[str, list[dict], Path]:
    tmp = tmp_path_factory.mktemp("page")
    store = synthetic_store(tmp / "store")
    summary = write_report(store, tmp / "report.html", tmp / "summary.json")
    return (tmp / "report.html").read_text(), summary, tmp


def test_page_is_well_formed_html(page) -> None:
    text, _, _ = page
    check = StructureCheck()
    check.feed(text)
    check.close()
    assert check.doctype
    assert check.errors == [] and check.stack == []
    assert check.count["html"] == check.count["head"] == check.count["body"] == 1
    ids = [v for _, k, v in check.attrs if k == "id"]
    assert len(ids) == len(set(ids))
    anchors = {v[1:] for t, k, v in check.attrs if t == "a" and k == "href"}
    assert anchors <= set(ids)


def test_page_has_no_external_reference(page) -> None:
    text, _, _ = page
    check = StructureCheck()
    check.feed(text)
    assert "script" not in check.count and "link" not in check.count
    for tag, key, value in check.attrs:
        if key in ("src", "href"):
            assert value.startswith(("data:image/png;base64,", "#")), (tag, value[:40])
    bare = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    cited = "https://escholarship.org/uc/item/4jp0w0jc"  # the thesis, cited as text
    assert bare.count(cited) == 1 and "href" not in bare[bare.index(cited) - 40:bare.index(cited)]
    bare = bare.replace(cited, "")
    assert not re.search(r"(https?:|ftp:)?//[a-z0-9]", bare, re.IGNORECASE)
    assert "@import" not in bare and "url(" not in bare


def test_summary_has_a_row_per_id_and_the_contract_keys(page) -> None:
    text, summary, tmp = page
    rows = json.loads((tmp / "summary.json").read_text())["rows"]
    assert rows == json.loads(json.dumps(summary, default=str))
    assert list(dict.fromkeys(r["id"] for r in rows)) == list(published())
    keys = {"id", "quantity", "published", "ours_mean", "ours_std", "n", "verdict", "command"}
    assert all(keys <= set(r) for r in rows)
    built = {e.id for e in rp.EXPERIMENTS}
    for r in rows:
        if r["id"] in built:
            assert r["n"] >= 3 and r["command"].startswith("xbarsim reproduce --quick --only")
        else:
            assert r["verdict"] in ("not yet built", "not reproducible from the text")
            assert r["reason"]
    assert text.count('<tr class="exp">') == len(published())


def test_synthetic_verdicts(page) -> None:
    _, summary, _ = page
    by = {(r["id"], r["quantity"]): r for r in summary}
    assert by["P2_thresholds", "set_mean_v"]["verdict"] == vd.GAP
    assert by["P2_thresholds", "set_mean_v"]["gap"] == pytest.approx(1.19 * 2.03)
    assert by["P2_thresholds", "set_std_v"]["verdict"] == vd.BY_CONSTRUCTION  # preset readback
    assert by["P3_image_tuning", "mean_error"]["verdict"] == vd.WITHIN
    assert by["P3_image_tuning", "mean_error"]["verdict_label"] == vd.WITHIN + vd.QUICK_SUFFIX
    row = by["P3_image_tuning", "mean_error"]
    assert row["uncertainty"] == 0.0 and row["rule"] == "value" and row["mode"] == "quick"
    assert row["statistic"] == "mean" and row["ours"] == pytest.approx(row["ours_mean"])
    assert by["T28_half_select_64", "vmm_error_p99_sigma_0p25"]["statistic"] == "median"
    assert by["P4_digits_perceptron", "import_gap_at_1pct"]["verdict"] == vd.SHOWN_BESIDE
    assert by["P4_digits_perceptron", "import_gap_at_1pct"]["published"] is None
    assert by["P3_image_tuning", "mean_error"]["figure"] == "paper Fig. 3"
    assert by["T28_half_select_64", "vmm_error_p99_sigma_0p25"]["figure"] == "thesis Figs. 28-29"
    assert by["T51_56_energy", "trends.throughput"]["verdict"] == vd.TREND
    assert by["T24_25_defects", "at_20000_ppm_with_extra_column.convnet"]["n"] == 4
    assert by["T60_offset_compensation", "after_compensation_max_offset_v"]["verdict"] == vd.WITHIN


@pytest.mark.parametrize(
    ("rule", "pub", "mean", "std", "approx", "expected"),
    [
        ("value", 1.0, 1.04, 0.0, False, vd.WITHIN),
        ("value", 1.0, 1.06, 0.0, False, vd.GAP),
        ("value", 1.0, 1.11, 0.035, False, vd.WITHIN),  # 2 u widen the band
        ("value", 1.0, 1.09, 0.0, True, vd.WITHIN),
        ("value", 1.0, 1.11, 0.0, True, vd.GAP),
        ("value", -1.39, -1.0, 0.0, False, vd.GAP),
        ("bound", 0.001, 0.0009, 0.0, False, vd.WITHIN),
        ("bound", 0.001, 0.0009, 0.0001, False, vd.GAP),  # the bound must hold with 2 u
        ("bound", 0.001, 0.0011, 0.0, False, vd.GAP),
        ("readback-floor", 14.0, 15.6, 0.0, True, vd.BY_CONSTRUCTION),
        ("readback-floor", 14.0, 13.9, 0.0, True, vd.GAP),
        ("beside", None, 0.3, 0.0, False, vd.SHOWN_BESIDE),
        ("trend", "linear", 1.0, 0.0, False, vd.TREND),
        ("trend", "linear", 0.5, 0.5, False, vd.GAP),
    ],
)
def test_verdict_rules(rule, pub, mean, std, approx, expected) -> None:
    assert vd.verdict(rule, pub, mean, std, approx)[0] == expected


def test_worst_verdict_orders_gap_trend_within() -> None:
    assert vd.worst([vd.WITHIN, vd.TREND]) == vd.TREND
    assert vd.worst([vd.WITHIN + vd.QUICK_SUFFIX, vd.BELOW_RESOLUTION]) == vd.BELOW_RESOLUTION
    assert vd.worst([vd.TREND, vd.GAP, vd.WITHIN]) == vd.GAP
    assert vd.worst([vd.WITHIN]) == vd.WITHIN


def test_every_published_id_is_built_or_explained() -> None:
    built = set(rp.built_ids())
    for ex in rp.experiment_ids():
        assert ex in built or ex in rp.NOT_BUILT, ex
    assert not built & set(rp.NOT_BUILT)
    for e in rp.EXPERIMENTS:
        for q in e.quantities:
            q.published(e.id)  # every key exists in published.yaml


def test_instance_seeds_depend_on_identity_only() -> None:
    from xbarsim.reproduce.jobs import instance_seed

    a = instance_seed(0, "P2_thresholds", 1)
    assert a == instance_seed(0, "P2_thresholds", 1)
    assert len({a, instance_seed(0, "P2_thresholds", 0), instance_seed(1, "P2_thresholds", 1),
                instance_seed(0, "P3_image_tuning", 1)}) == 4


def test_compare_lists_changed_quantities(tmp_path: Path) -> None:
    old = synthetic_store(tmp_path / "old")
    new = synthetic_store(tmp_path / "new", gap_key="set_std_v")
    write_report(new, tmp_path / "r.html", compare=old)
    text = (tmp_path / "r.html").read_text()
    table = text[text.index('<table id="changed">'):]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == 3  # header, set_mean_v, set_std_v
    assert "set_mean_v" in table and "set_std_v" in table


def _error(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    err = _error(capsys, ["reproduce", "--quick", "--only", "P2,NOPE", "--out", str(out)])
    assert "only" in err and "NOPE" in err
    assert not out.exists()
    (tmp_path / "file").write_text("x")
    assert "out" in _error(capsys, ["reproduce", "--only", "P2", "--out", str(tmp_path / "file")])
    bad = tmp_path / "bad.yaml"
    bad.write_text("P2: {sise: 8}\n")
    assert "sise" in _error(capsys, ["reproduce", "--only", "P2", "--settings", str(bad),
                                     "--out", str(out)])
    assert not out.exists()
    assert "not a directory" in _error(capsys, ["report", str(tmp_path / "missing")])
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.csv").write_text("a,b\n")
    assert "not a readable reproduce store" in _error(capsys, ["report", str(foreign)])
    (foreign / META_NAME).write_text(json.dumps({"format": "xbarsim-sweep"}))
    assert "another format" in _error(capsys, ["report", str(foreign)])
    old = synthetic_store(tmp_path / "old")
    meta = json.loads((old / META_NAME).read_text())
    (old / META_NAME).write_text(json.dumps({**meta, "store_version": 99}))
    assert "store version 99" in _error(capsys, ["report", str(old),
                                                 "--out", str(tmp_path / "r.html")])
    assert not (tmp_path / "r.html").exists()
    good = synthetic_store(tmp_path / "good")
    (good / "part-P2_thresholds.parquet").write_bytes(b"not parquet")
    assert "unreadable" in _error(capsys, ["report", str(good),
                                           "--out", str(tmp_path / "r.html")])


TINY = "P2: {size: 6, instances: 2}\n"


def test_reproduce_only_p2_end_to_end_and_resume(tmp_path: Path, capsys) -> None:
    settings = tmp_path / "tiny.yaml"
    settings.write_text(TINY)
    out = tmp_path / "run"
    argv = ["reproduce", "--quick", "--only", "P2", "--settings", str(settings), "--out",
            str(out), "--no-progress", "--seed", "3", "--workers", "0"]
    assert main(argv) == 0
    provenance = (out / "report.html").read_text().split('id="provenance"')[1]
    assert "<td>xbarsim reproduce --quick --only P2 --settings" in provenance
    assert "--seed 3 --workers 0</td>" in provenance
    document = json.loads((out / "summary.json").read_text())
    assert document["provenance"]["seeds"] == {"seed": 3}
    assert document["provenance"]["command"].startswith("xbarsim reproduce --quick")
    assert {"xbarsim_version", "git_commit", "date_utc", "numpy", "torch"} <= set(
        document["provenance"]
    )
    rows = document["rows"]
    p2 = [r for r in rows if r["id"] == "P2_thresholds"]
    assert [r["quantity"] for r in p2] == [q.key for q in rp.EXPERIMENTS[0].quantities]
    assert all(r["n"] == 2 and r["ours_mean"] is not None for r in p2)
    assert 0.8 < p2[0]["ours_mean"] < 1.6  # set thresholds, V
    text = (out / "report.html").read_text()
    assert '"size": 6' in html.unescape(text) and "Figure corresponding to paper Fig. 2" in text
    assert "already holds results" in _error(capsys, argv)
    parts = sorted(p.name for p in (out / "store").glob("part-*"))
    assert main([*argv, "--resume"]) == 0  # nothing left to run: the same rows
    assert sorted(p.name for p in (out / "store").glob("part-*")) == parts
    again = json.loads((out / "summary.json").read_text())["rows"]
    assert [r["ours_mean"] for r in again] == [r["ours_mean"] for r in rows]
    assert main(["report", str(out), "--out", str(tmp_path / "again.html")]) == 0  # DIR too
    assert (tmp_path / "again.html").stat().st_size > 10_000


@pytest.mark.slow
def test_quick_run_covers_every_built_experiment(tmp_path: Path) -> None:
    assert main(["reproduce", "--quick", "--out", str(tmp_path), "--no-progress",
                 "--workers", "2"]) == 0
    rows = json.loads((tmp_path / "summary.json").read_text())["rows"]
    built = [r for r in rows if r["id"] in rp.built_ids()]
    assert all(r["n"] >= 1 and r["ours_mean"] is not None for r in built)


@pytest.mark.slow
def test_rows_do_not_depend_on_workers(tmp_path: Path) -> None:
    settings = tmp_path / "tiny.yaml"
    settings.write_text(TINY + "T60: {instances: 2}\n")
    means = []
    for workers in ("0", "2"):
        out = tmp_path / workers
        assert main(["reproduce", "--only", "P2,T60", "--settings", str(settings), "--out",
                     str(out), "--workers", workers, "--no-progress"]) == 0
        rows = json.loads((out / "summary.json").read_text())["rows"]
        means.append([r["ours_mean"] for r in rows])
    assert means[0] == means[1]


def test_t30_and_irdrop_entries_tiny(tmp_path: Path) -> None:
    settings = {"T30_vmm_grid": {"size": 8, "instances": 1, "inputs": 20},
                "F_ir_drop_statements": {"size": 8, "instances": 2, "inputs": 20}}
    meta, rows, prov = rp.run_reproduce("quick", tmp_path / "s",
                                        only=["T30", "F_ir_drop_statements"], settings=settings)
    assert meta["settings"]["T30_vmm_grid"]["size"] == 8 and prov["mode"] == "quick"
    by = {(r["id"], r["quantity"]): r for r in rp.summarize(meta, rows)}
    ratio = by["T30_vmm_grid", "n_hs_ratio_sigma_0p30_over_0p25_at_64"]
    assert ratio["n"] == 1 and ratio["ours_mean"] >= 0.0
    figures = {r["figure"] for r in rows if r.get("id") == "T30_vmm_grid" and "figure" in r}
    assert figures == {"error_distributions_N8_t0p01_baseline",
                       "error_distributions_N8_t0p01_no-hs"}  # the N slice of Fig. 30
    ir = by["F_ir_drop_statements", "numeric_line_resistance"]
    assert ir["verdict"] == vd.NOT_REPRODUCIBLE and ir["published"] is None and ir["reason"]
    assert ir["n"] == 2 and 0.0 < ir["ours_mean"] < 0.5  # p99 error, fraction of I_max


@pytest.mark.parametrize(
    ("override", "message"),
    [({"P2": {"size": 641}}, r"P2_thresholds.size must lie in \(0, 640\]"),
     ({"P2": {"instances": 2.5}}, "must be an integer"),
     ({"P2": {"instances": True}}, "must be an integer"),
     ({"P3": {"engine": 3}}, "P3_image_tuning.engine must be a str"),
     ({"T21": {"temps_c": [25.0, 400.0]}}, r"temps_c\[1\]: must lie in \[0, 150\] °C"),
     ({"T21": {"temps_c": [25.0] * 161}}, "must be a list of 1 to 160 values"),
     ({"T31": {"n_test": 0}}, r"n_test must lie in \(0, 2000\]"),
     ({"P2": {"size": None}}, "must be an integer"),
     ({"T30": {"inputs": float("inf")}}, "must be an integer")],
)
def test_settings_of_another_type_or_size_are_refused(override, message) -> None:
    from xbarsim.cli.reproduce_commands import check_settings

    resolved = {rp.select([k])[0].id: v for k, v in override.items()}
    with pytest.raises(XbarsimInputError, match=message):
        check_settings(resolved, "quick")


def test_settings_within_range_pass() -> None:
    from xbarsim.cli.reproduce_commands import check_settings

    check_settings({"P2_thresholds": {"size": 640, "instances": 1},
                    "T21_23_temperature": {"temps_c": [0.0, 150.0], "n_test": None},
                    "T31_33_networks": {"n_test": 50}, "P3_image_tuning": {"engine": "cpu"}},
                   "quick")


def test_load_settings_refuses_a_fifo_and_an_oversized_file(tmp_path: Path,
                                                             monkeypatch) -> None:
    import os

    from xbarsim import validation

    fifo = tmp_path / "settings.fifo"
    os.mkfifo(fifo)  # opened with a plain read, this would block forever
    with pytest.raises(XbarsimInputError, match="not a regular file") as caught:
        rp.load_settings(fifo)
    assert "\n" not in str(caught.value)
    big = tmp_path / "big.yaml"
    big.write_text(TINY + "#" * 200 + "\n")
    assert rp.load_settings(big) == {"P2_thresholds": {"size": 6, "instances": 2}}
    monkeypatch.setattr(validation, "MAX_TEXT_BYTES", 100)
    with pytest.raises(XbarsimInputError, match="more than the 100 bytes"):
        rp.load_settings(big)


def test_read_store_reads_bounded(tmp_path: Path, monkeypatch) -> None:
    import os

    from xbarsim import validation

    store = synthetic_store(tmp_path / "store")
    meta, rows, _ = rp.read_store(store)
    assert meta["format"] == rp.STORE_FORMAT and len(rows) > 50
    monkeypatch.setattr(validation, "MAX_DATA_BYTES", 100)  # every part is larger
    with pytest.raises(XbarsimInputError, match=r"part-.*more than the 100 bytes"):
        rp.read_store(store)
    monkeypatch.undo()
    (store / rp.PROVENANCE_NAME).unlink(missing_ok=True)
    os.mkfifo(store / rp.PROVENANCE_NAME)
    with pytest.raises(XbarsimInputError, match="not a regular file"):
        rp.read_store(store)


def test_write_report_checks_the_store_schema_first(tmp_path: Path) -> None:
    from xbarsim.experiments.chapter2 import PartStore

    store = synthetic_store(tmp_path / "store")
    meta = json.loads((store / META_NAME).read_text())
    PartStore(store, meta).write("P2_thresholds", [
        {"id": "P2_thresholds", "quantity": "set_mean_v", "instance": 0, "value": "1.2"}])
    rp.read_store(store)  # the reader alone takes the row: the schema check must refuse it
    with pytest.raises(XbarsimInputError, match=r"part-P2_thresholds.parquet row 0"):
        write_report(store, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
    good = synthetic_store(tmp_path / "good")
    with pytest.raises(XbarsimInputError, match=r"part-P2_thresholds.parquet row 0"):
        write_report(good, tmp_path / "r.html", compare=store)  # the earlier store too
    assert not (tmp_path / "r.html").exists()

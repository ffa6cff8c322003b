"""The reproduce report: one self-contained HTML page (layer 7).

:func:`render` draws what :mod:`xbarsim.reproduce` hands it (summary rows,
values per instance, one :class:`Section` per built experiment, figures and job rows,
provenance); it reads no store and imports no experiment. The page is a Jinja2 template
(``templates/reproduce.html.j2``) rendered with autoescape, so every string that reaches it
(a store's settings, labels, figure names, the command line) is text, never markup. Figures
are base64 PNG ``data:`` URIs of bytes this program drew or checked to be a PNG within
:data:`MAX_FIGURE_PIXELS`; the CSS is one ``<style>`` element allowed by its hash. The
Content-Security-Policy forbids every script, network request, form and base URL, so the
page opens offline and runs nothing, whoever wrote the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from xbarsim.report import figures
from xbarsim.report import verdicts as vd

#: The two source documents, cited at the top of the page as they print themselves.
CITATIONS = (
    'H. Kim, H. Nili, M. R. Mahmoodi, D. B. Strukov, "4K-Memristor Analog-Grade Passive '
    'Crossbar Circuit" (UC Santa Barbara).',
    'Z. Fahimi, "Energy-Efficient Neuromorphic Computing with CMOS-Integrated Memristive '
    'Crossbars", PhD dissertation, UC Santa Barbara, 2021, '
    "https://escholarship.org/uc/item/4jp0w0jc.",
)
#: Largest figure a store may hand the page (pixels); larger ones are left out.
MAX_FIGURE_PIXELS = 40_000_000
#: Largest figure a store may hand the page (bytes of PNG).
MAX_FIGURE_BYTES = 16 * 1024**2
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_BADGE = {
    vd.WITHIN: "within",
    vd.TREND: "trend",
    vd.GAP: "gap",
    vd.BY_CONSTRUCTION: "bycon",
    vd.BELOW_RESOLUTION: "belowres",
    vd.SHOWN_BESIDE: "beside",
    vd.NOT_REPRODUCIBLE: "nr",
    vd.NOT_YET_BUILT: "ny",
    vd.NOT_RUN: "notrun",
}


@dataclass(frozen=True)
class Section:
    """What the page shows of one built experiment besides its rows.

    Attributes
    ----------
    id : str
        Top-level id of ``published.yaml``.
    setup : str
        One-line setup.
    settings : dict
        The settings it ran with.
    where : str
        Where the source document publishes it.
    figure : str
        The source document's figure its figures correspond to.
    command : str
        The stand-alone command that reproduces it.
    """

    id: str
    setup: str
    settings: dict[str, Any]
    where: str
    figure: str
    command: str


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("xbarsim.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )


@lru_cache(maxsize=1)
def _css() -> str:
    return resources.files("xbarsim.report").joinpath("templates/reproduce.css").read_text()


def content_security_policy(css: str) -> str:
    """The page's policy: nothing but data: images and the one ``<style>`` of hash ``css``."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return (f"default-src 'none'; img-src data:; style-src 'sha256-{digest}'; "
            "script-src 'none'; base-uri 'none'; form-action 'none'")


def badge_class(verdict: str) -> str:
    """CSS class of a verdict's badge (unknown verdicts get the neutral one)."""
    return _BADGE.get(verdict, "ny")


def _num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return x if isinstance(x, str) else json.dumps(x, default=str)
    return f"{x:.4g}"


def _float(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _gap_text(row: dict[str, Any]) -> str:
    gap, p = _float(row.get("gap")), _float(row.get("published"))
    if row["verdict"] != vd.GAP or gap is None or p is None:
        return ""
    rel = f", {gap / p:+.0%}" if p else ""
    return f" ({gap:+.3g}{rel})"


def checked_png(text: Any) -> str | None:
    """``text`` re-encoded as base64 if it decodes to a PNG within the size limits, else None.

    The store is input like any other: only bytes that carry the PNG signature, pass PIL's
    chunk checks and declare a size within :data:`MAX_FIGURE_PIXELS` reach the page, and
    they are encoded here, so nothing else of the store's string can.
    """
    if not isinstance(text, str) or len(text) > MAX_FIGURE_BYTES * 4 // 3 + 4:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_PNG_MAGIC):
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as im:
            width, height = im.size
            im.verify()  # every chunk present, checksums right (no pixel is decoded)
    except Exception:  # PIL raises many types for damaged or hostile files
        return None
    if width * height > MAX_FIGURE_PIXELS:
        return None
    return base64.b64encode(raw).decode("ascii")


def _band(row: dict[str, Any]) -> float | None:
    """Half-width of the published band of a numeric row (its unit), or None where the row
    has none (a bound, a trend, a row without ``approx``)."""
    pub = _float(row.get("published"))
    if pub is None or row.get("rule") not in ("value", "readback"):
        return None
    if not isinstance(row.get("approx"), bool):
        return None
    return vd.tolerance(pub, row["approx"], row.get("complement") is True)


def _published_text(row: dict[str, Any]) -> str:
    """The published cell: the number as printed ('~' where approximate, '<' / '>' for a
    bound), a trend's text, or '-'."""
    pub = _num(row["published"])
    rule = row.get("rule")
    if rule == "bound":
        return f"< {pub}"
    if rule == "readback-floor":
        return f"> {pub}"
    if row.get("approx") is True and _float(row["published"]) is not None:
        return f"~{pub}"
    return pub


def _ours_text(row: dict[str, Any]) -> str:
    """Ours as compared: the statistic (mean or median) ± its standard uncertainty."""
    ours = _float(row.get("ours", row.get("ours_mean")))
    if ours is None:
        return "-"
    u = _float(row.get("uncertainty"))
    spread = "" if u is None else f" ± {_resolved(u, ours):.2g}"
    return f"{row.get('statistic') or 'mean'} {ours:.4g}{spread}"


def _resolved(spread: float, value: float) -> float:
    """``spread`` with rounding noise of identical instances (below 1e-9 of ``value``)
    shown as 0."""
    return 0.0 if abs(spread) <= 1e-9 * abs(value) else spread


def _verdict_text(row: dict[str, Any]) -> str:
    """The verdict as shown (its quick-mode label where the row carries one), with the gap
    or the accuracy one test image is worth."""
    text = row.get("verdict_label") or row["verdict"]
    res = _float(row.get("resolution"))
    if row["verdict"] == vd.BELOW_RESOLUTION and res is not None:
        return f"{text} (one test image: {res:.2g})"
    return text + _gap_text(row)


def _quick(row: dict[str, Any], mode: str) -> bool:
    """Whether quick mode may change this verdict: the row's ``quick`` flag, else the mode."""
    flag = row.get("quick")
    return bool(flag) if isinstance(flag, bool) else mode == "quick"


def _distribution(e: Section, rows: list[dict[str, Any]],
                  values: dict[tuple[str, str], list[float]]) -> str | None:
    """Base64 PNG of the section's quantities over instances, or None without numbers."""
    panels = []
    for r in rows:
        mean = _float(r.get("ours_mean"))
        if mean is None:
            continue
        pub = None if r.get("rule") in ("trend", "readback-trend") else _float(r["published"])
        half = _band(r)
        band = None if pub is None or half is None else (pub - half, pub + half)
        panels.append(figures.Distribution(
            label=str(r.get("label") or r.get("quantity")),
            values=[v for v in values.get((r["id"], r["quantity"]), []) if _float(v) is not None],
            mean=mean, std=_float(r.get("ours_std")) or 0.0, n=int(r.get("n") or 0),
            published=pub, band=band, bound=r.get("rule") == "bound"))
    if not panels:
        return None
    return figures.png_base64(figures.distributions(panels, f"{e.id}: ours over instances"))


def _section(e: Section, rows: list[dict[str, Any]], mode: str,
             values: dict[tuple[str, str], list[float]], figs: list[dict[str, Any]],
             jobs: list[dict[str, Any]]) -> dict[str, Any]:
    verdict = vd.worst([r["verdict"] for r in rows])
    table = []
    for r in rows:
        mean, std = _float(r.get("ours_mean")), _float(r.get("ours_std"))
        half = _band(r)
        verdict_text = _verdict_text(r)
        quick = mean is not None and _quick(r, mode)
        table.append({
            "label": r["label"] or r["quantity"] or "-", "reason": r.get("reason") or "",
            "published": _published_text(r),
            "band": "" if half is None else f"band ± {half:.2g}",
            "ours": _ours_text(r),
            "std": "" if std is None or mean is None else f"std {_resolved(std, mean):.2g}",
            "n": r.get("n", 0), "verdict": verdict_text, "cls": badge_class(r["verdict"]),
            "quick": quick, "mark": quick and not r.get("verdict_label")})  # a label says it
    shown, notes = [], []
    for f in figs:
        png = checked_png(f.get("png"))
        if png is None:
            notes.append(f"Figure {f.get('figure')!s} is not a PNG within the page's limits; "
                         "left out.")
        else:
            shown.append({"alt": str(f.get("figure", "")), "png": png})
    walls = [w for w in (_float(j.get("wall_s")) for j in jobs) if w is not None]
    return {
        "id": e.id, "verdict": verdict, "cls": badge_class(verdict),
        "quick": any(q["quick"] for q in table), "setup": e.setup,
        "settings": json.dumps(e.settings, sort_keys=True, default=str), "where": e.where,
        "rows": table, "distribution": _distribution(e, rows, values), "figure": e.figure,
        "figures": shown, "notes": notes, "command": rows[0].get("command") or "-",
        "standalone": e.command, "n_jobs": len(jobs), "wall": f"{sum(walls):.1f}",
        "hashes": ", ".join(sorted({str(j.get("config_hash")) for j in jobs})),
        "engines": ", ".join(sorted({str(j.get("engine")) for j in jobs})),
    }


def _summary(summary: list[dict[str, Any]], sections: dict[str, Section], mode: str
             ) -> list[dict[str, Any]]:
    out = []
    for ex in dict.fromkeys(r["id"] for r in summary):
        rows = [r for r in summary if r["id"] == ex]
        verdict = vd.worst([r["verdict"] for r in rows])
        n_q = sum(r["quantity"] is not None for r in rows)
        note = sections[ex].setup if ex in sections else rows[0].get("reason")
        if rows[0].get("reason") and ex in sections and rows[0].get("rule") == "unpublished":
            note = rows[0]["reason"]
        out.append({"id": ex, "link": bool(n_q) and ex in sections, "verdict": verdict,
                    "cls": badge_class(verdict), "n_q": n_q, "note": note or "",
                    "figure": str(rows[0].get("figure") or "-"),
                    "quick": any(r.get("ours_mean") is not None and _quick(r, mode)
                                 for r in rows)})
    return out


def _changed(summary: list[dict[str, Any]], old: list[dict[str, Any]]) -> list[dict[str, str]]:
    before = {(r["id"], r["quantity"]): r for r in old}
    out = []
    for r in summary:
        b = before.get((r["id"], r["quantity"]))
        if b is None or (b["ours_mean"], b["verdict"]) != (r["ours_mean"], r["verdict"]):
            out.append({"id": r["id"], "quantity": r["quantity"] or "-",
                        "before": _num(None if b is None else b["ours_mean"]),
                        "now": _num(r["ours_mean"]),
                        "verdict_before": "new" if b is None else b["verdict"],
                        "verdict_now": r["verdict"]})
    return out


def _provenance(meta: dict[str, Any], prov: dict[str, Any], rows: list[dict[str, Any]]
                ) -> list[tuple[str, str]]:
    walls = [w for w in (_float(r.get("wall_s")) for r in rows if "job" in r) if w is not None]
    facts: dict[str, Any] = {
        "package version": meta["version"], "git commit": prov.get("git_commit", "-"),
        "root seed": meta["seed"],
        "instance seeds": "instance k of an experiment: xbarsim.seeding.point_seed(root, "
                          "{experiment, instance: k}) mod 2^32; the studies run as one job "
                          "seed their points from the root by their own identity",
        "mode": meta["mode"],
        "config hashes": json.dumps(meta["config_hashes"], sort_keys=True, default=str),
        "date of the run (UTC)": prov.get("date_utc", "-"),
        "CPU": prov.get("cpu", "-"), "GPU": prov.get("gpu", "-"),
        "Python": prov.get("python", "-"), "numpy": prov.get("numpy", "-"),
        "torch": prov.get("torch", "-"), "numba": prov.get("numba", "-"),
        "wall time of the last run (s)": _num(prov.get("wall_s")),
        "wall time of all jobs (s, summed)": _num(sum(walls)),
        "command": prov.get("command", "-"),
    }
    return [(k, v if isinstance(v, str) else _num(v)) for k, v in facts.items()]


def render(meta: dict[str, Any], summary: list[dict[str, Any]],
           values: dict[tuple[str, str], list[float]], sections: dict[str, Section],
           rows: list[dict[str, Any]], prov: dict[str, Any],
           old: list[dict[str, Any]] | None = None) -> str:
    """The page's HTML.

    Parameters
    ----------
    meta : dict
        The store's parameters (``mode``, ``seed``, ``version``, ``ids``,
        ``config_hashes``).
    summary : list of dict
        One row per quantity (``id, quantity, label, published, ours_mean, ours_std, n,
        verdict, gap, rule, reason, command``; optional: ``verdict_label`` (the verdict as
        shown), ``ours``, ``statistic`` and ``uncertainty`` (the compared statistic, "mean"
        or "median", and its standard uncertainty), ``resolution`` (the accuracy one test
        image is worth), ``figure`` (the source's figure), ``quick`` (whether quick mode
        may change the verdict), ``approx`` and ``complement`` (whether the published
        value is approximate, and whether its band is of ``1 - published``: together they
        size the published band, :func:`xbarsim.report.verdicts.tolerance`)), ids without
        quantities included.
    values : dict
        ``(id, quantity) -> values per instance`` for the box plots.
    sections : dict
        id -> :class:`Section` of each built experiment.
    rows : list of dict
        The store's figure rows (``id, figure, png``) and job rows (``id, job, wall_s,
        config_hash, engine``).
    prov : dict
        Provenance of the last run (see :func:`xbarsim.provenance.provenance`).
    old : list of dict, optional
        An earlier store's summary, for the "changed since" table.
    """
    mode = str(meta["mode"])
    built = []
    for ex in dict.fromkeys(r["id"] for r in summary):
        if ex not in sections or ex not in meta["ids"]:
            continue
        mine = [r for r in summary if r["id"] == ex]
        figs = [r for r in rows if r.get("id") == ex and "figure" in r]
        jobs = [r for r in rows if r.get("id") == ex and "job" in r]
        built.append(_section(sections[ex], mine, mode, values, figs, jobs))
    from markupsafe import Markup

    css = _css()
    return _environment().get_template("reproduce.html.j2").render(
        csp=content_security_policy(css), css=Markup(css), citations=CITATIONS, mode=mode,
        quick=mode == "quick", seed=meta["seed"], version=meta["version"],
        summary=_summary(summary, sections, mode), rules=vd.RULES,
        changed=None if old is None else _changed(summary, old), sections=built,
        provenance=_provenance(meta, prov, rows))

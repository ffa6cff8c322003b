"""The reproduce report: one self-contained HTML page (layer 7).

:func:`render` draws what :mod:`xbarsim.experiments.reproduce` hands it (summary rows,
values per instance, one :class:`Section` per built experiment, figures and job rows,
provenance); it reads no store and imports no experiment. Everything is inline (CSS in a
``<style>`` element, the distributions as inline SVG, the experiments' own figures as base64
PNG ``data:`` URIs, no script), so the page opens offline and makes no network request.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim.report import verdicts as vd

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
table{border-collapse:collapse;margin:0.5em 0}
td,th{border:1px solid #ccc;padding:0.2em 0.5em;text-align:left;vertical-align:top}
th{background:#f0f0f0}
.badge{display:inline-block;padding:0.1em 0.5em;border-radius:0.6em;font-size:0.85em}
.within{background:#c8ecc8}.trend{background:#d5e5f7}.gap{background:#f7d2c8}
.bycon{background:#f3ead0}.nr{background:#e8e0f0}.ny{background:#eee}.notrun{background:#fff4c8}
img.figure{max-width:min(100%,30em);height:auto;display:inline-block;margin:0.3em;vertical-align:top}
svg.figure{display:block;margin:0.5em 0;background:#fcfcfc}
code{background:#f5f5f5;padding:0 0.2em}
section{border-top:2px solid #ddd;margin-top:1.5em}
"""

_BADGE = {
    vd.WITHIN: "within",
    vd.TREND: "trend",
    vd.GAP: "gap",
    vd.BY_CONSTRUCTION: "bycon",
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
        Where the seed publishes it.
    figure : str
        The seed figure its figures correspond to.
    command : str
        The stand-alone command that reproduces it.
    """

    id: str
    setup: str
    settings: dict[str, Any]
    where: str
    figure: str
    command: str


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def badge(verdict: str, gap: str = "") -> str:
    """HTML of a verdict badge (``gap`` appended for a gap)."""
    text = verdict + (f" ({gap})" if gap else "")
    return f'<span class="badge {_BADGE.get(verdict, "ny")}">{_e(text)}</span>'


def _num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return _e(json.dumps(x) if not isinstance(x, str) else x)
    return f"{x:.4g}"


def _gap_text(row: dict[str, Any]) -> str:
    if row["verdict"] != vd.GAP or row["gap"] is None:
        return ""
    p = float(row["published"])
    rel = f", {row['gap'] / p:+.0%}" if p else ""
    return f"{row['gap']:+.3g}{rel}"


_W, _H, _PAD = 170, 150, 28


def _panel(r: dict[str, Any], data: list[float] | None, x0: int) -> str:
    """One quantity: box (quartiles), median, whiskers (min-max) and points, or mean ± std;
    the published value as a red line."""
    if data:
        q0, q1, q2, q3, q4 = np.quantile(data, [0.0, 0.25, 0.5, 0.75, 1.0])
    else:
        m, sd = r["ours_mean"], r["ours_std"]
        q0, q1, q2, q3, q4 = m - sd, m, m, m, m + sd
    pub = r["published"] if r["rule"] not in ("trend", "readback-trend") else None
    pub = float(pub) if isinstance(pub, int | float) and not isinstance(pub, bool) else None
    lo = min(q0, pub if pub is not None else q0)
    hi = max(q4, pub if pub is not None else q4)
    span = (hi - lo) or (abs(hi) or 1.0)
    lo, hi = lo - 0.08 * span, hi + 0.08 * span

    def y(v: float) -> float:
        return _PAD + (_H - 2 * _PAD) * (hi - v) / (hi - lo)

    cx = x0 + _W / 2
    out = [f'<text x="{cx:.0f}" y="12" font-size="9" text-anchor="middle">'
           f"{_e(r['label'][:34])}</text>",
           f'<line x1="{x0 + 22}" y1="{_PAD}" x2="{x0 + 22}" y2="{_H - _PAD}" stroke="#888"/>',
           f'<text x="{x0 + 20}" y="{_PAD + 3}" font-size="8" text-anchor="end">{hi:.3g}</text>',
           f'<text x="{x0 + 20}" y="{_H - _PAD + 3}" font-size="8" text-anchor="end">'
           f"{lo:.3g}</text>",
           f'<line x1="{cx}" y1="{y(q0):.1f}" x2="{cx}" y2="{y(q4):.1f}" stroke="#333"/>',
           f'<rect x="{cx - 18}" y="{y(q3):.1f}" width="36" height="{max(y(q1) - y(q3), 1):.1f}"'
           ' fill="#cfe0f5" stroke="#333"/>',
           f'<line x1="{cx - 18}" y1="{y(q2):.1f}" x2="{cx + 18}" y2="{y(q2):.1f}" '
           'stroke="#d95f02" stroke-width="2"/>']
    out += [f'<circle cx="{cx + 26}" cy="{y(v):.1f}" r="2" fill="#333"/>' for v in data or []]
    if pub is not None:
        out.append(f'<line x1="{x0 + 24}" y1="{y(pub):.1f}" x2="{x0 + _W - 6}" y2="{y(pub):.1f}"'
                   ' stroke="red" stroke-dasharray="4 2"/>')
    out.append(f'<text x="{cx:.0f}" y="{_H - 8}" font-size="9" text-anchor="middle">'
               f"n={r['n']}</text>")
    return "".join(out)


def distribution_svg(rows: list[dict[str, Any]], values: dict[tuple[str, str], list[float]]
                     ) -> str:
    """Inline SVG: per quantity, ours over instances (box plot and points, or mean ± std
    where only statistics are kept) and the published value (red dashed line)."""
    numeric = [r for r in rows if r["ours_mean"] is not None]
    width = _W * len(numeric)
    panels = "".join(_panel(r, values.get((r["id"], r["quantity"])), i * _W)
                     for i, r in enumerate(numeric))
    return (f'<svg class="figure" role="img" width="{width}" height="{_H}" '
            f'viewBox="0 0 {width} {_H}"><title>ours over instances; red: published</title>'
            f"{panels}</svg>")


def _summary_table(summary: list[dict[str, Any]], sections: dict[str, Section]) -> str:
    ids = list(dict.fromkeys(r["id"] for r in summary))
    out = ['<table id="summary"><thead><tr><th>id</th><th>verdict</th><th>quantities</th>'
           "<th>setup or reason</th></tr></thead><tbody>"]
    for ex in ids:
        rows = [r for r in summary if r["id"] == ex]
        verdict = vd.worst([r["verdict"] for r in rows])
        n_q = sum(r["quantity"] is not None for r in rows)
        note = sections[ex].setup if ex in sections else rows[0]["reason"]
        if rows[0]["reason"] and ex in sections and rows[0]["rule"] == "unpublished":
            note = rows[0]["reason"]
        name = f'<a href="#{_e(ex)}">{_e(ex)}</a>' if n_q else _e(ex)
        out.append(f'<tr class="exp"><td>{name}</td>'
                   f"<td>{badge(verdict)}</td><td>{n_q}</td><td>{_e(note)}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _experiment_section(e: Section, rows: list[dict[str, Any]], mode: str,
                        values: dict[tuple[str, str], list[float]],
                        figures: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> str:
    verdict = vd.worst([r["verdict"] for r in rows])
    out = [f'<section id="{_e(e.id)}"><h2>{_e(e.id)} {badge(verdict)}</h2>',
           f"<p>{_e(e.setup)} Settings ({_e(mode)}): "
           f"<code>{_e(json.dumps(e.settings, sort_keys=True))}</code>. "
           f"Published: {_e(e.where)}.</p>"]
    out.append("<table><thead><tr><th>quantity</th><th>published</th><th>ours mean ± std</th>"
               "<th>n</th><th>verdict</th></tr></thead><tbody>")
    for r in rows:
        ours = "-" if r["ours_mean"] is None else f"{r['ours_mean']:.4g} ± {r['ours_std']:.2g}"
        pub = _num(r["published"])
        if r["rule"] == "bound":
            pub = f"&lt; {pub}"
        label = _e(r["label"]) + (f"<br><small>{_e(r['reason'])}</small>" if r["reason"] else "")
        out.append(f"<tr><td>{label}</td><td>{pub}</td><td>{ours}</td>"
                   f"<td>{r['n']}</td><td>{badge(r['verdict'], _gap_text(r))}</td></tr>")
    out.append("</tbody></table>")
    if any(r["ours_mean"] is not None for r in rows):
        out.append("<h3>Ours over instances (red dashed: published)</h3>"
                   + distribution_svg(rows, values))
    if figures:
        out.append(f"<h3>Figure corresponding to {_e(e.figure)}</h3>")
        out += [f'<img class="figure" alt="{_e(f["figure"])}" '
                f'src="data:image/png;base64,{f["png"]}">' for f in figures]
    wall = sum(j["wall_s"] for j in jobs)
    hashes = sorted({j["config_hash"] for j in jobs})
    engines = sorted({j["engine"] for j in jobs})
    out.append(f"<p>Command: <code>{_e(rows[0]['command'])}</code>; stand-alone: "
               f"<code>{_e(e.command)}</code>. Jobs {len(jobs)}, "
               f"wall {wall:.1f} s, config {_e(', '.join(hashes))}, engine "
               f"{_e(', '.join(engines))}.</p></section>")
    return "".join(out)


def _changed(summary: list[dict[str, Any]], old: list[dict[str, Any]]) -> str:
    before = {(r["id"], r["quantity"]): r for r in old}
    out = ['<table id="changed"><thead><tr><th>id</th><th>quantity</th><th>before</th>'
           "<th>now</th><th>verdict before → now</th></tr></thead><tbody>"]
    n = 0
    for r in summary:
        b = before.get((r["id"], r["quantity"]))
        if b is None or (b["ours_mean"], b["verdict"]) != (r["ours_mean"], r["verdict"]):
            n += 1
            out.append(f"<tr><td>{_e(r['id'])}</td><td>{_e(r['quantity'] or '-')}</td>"
                       f"<td>{_num(None if b is None else b['ours_mean'])}</td>"
                       f"<td>{_num(r['ours_mean'])}</td><td>"
                       f"{_e('new' if b is None else b['verdict'])} → {_e(r['verdict'])}"
                       "</td></tr>")
    out.append("</tbody></table>")
    return "".join(out) if n else "<p>No quantity changed.</p>"


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
        verdict, gap, rule, reason, command``), ids without quantities included.
    values : dict
        ``(id, quantity) -> values per instance`` for the box plots.
    sections : dict
        id -> :class:`Section` of each built experiment.
    rows : list of dict
        The store's figure rows (``id, figure, png``) and job rows (``id, job, wall_s,
        config_hash, engine``).
    prov : dict
        Provenance of the last run (commit, CPU, GPU, Python, wall time, command).
    old : list of dict, optional
        An earlier store's summary, for the "changed since" table.
    """
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             "<title>xbarsim: published results beside ours</title>",
             f"<style>{_CSS}</style></head><body>",
             "<h1>xbarsim: the seed experiments, published beside ours</h1>",
             f"<p>Mode <b>{_e(meta['mode'])}</b>"
             + (" (reduced instance counts and sizes, stated per experiment; the seeds' "
                "counts need <code>--full</code>)" if meta["mode"] == "quick" else "")
             + f", root seed {meta['seed']}, xbarsim {_e(meta['version'])}. Networks train "
             "on the embedded 8 x 8 digits, not CIFAR-10/ImageNet, so network drops are "
             "compared in kind, not in value.</p>",
             "<h2>Summary</h2>", _summary_table(summary, sections),
             "<h2>Verdict rules</h2><ul>", *[f"<li>{_e(x)}</li>" for x in vd.RULES], "</ul>"]
    if old is not None:
        parts += ["<h2>Changed since the earlier store</h2>", _changed(summary, old)]
    for ex in dict.fromkeys(r["id"] for r in summary):
        if ex not in sections or ex not in meta["ids"]:
            continue
        mine = [r for r in summary if r["id"] == ex]
        figs = [r for r in rows if r.get("id") == ex and "figure" in r]
        jobs = [r for r in rows if r.get("id") == ex and "job" in r]
        parts.append(_experiment_section(sections[ex], mine, meta["mode"], values, figs, jobs))
    parts += ['<section id="provenance"><h2>Provenance</h2><table><tbody>']
    facts = {"package version": meta["version"], "git commit": prov.get("git_commit", "-"),
             "root seed": meta["seed"],
             "instance seeds": "instance k of an experiment: xbarsim.seeding.point_seed(root, "
                               "{experiment, instance: k}) mod 2^32; the studies run as one "
                               "job seed their points from the root by their own identity",
             "mode": meta["mode"],
             "config hashes": json.dumps(meta["config_hashes"], sort_keys=True),
             "CPU": prov.get("cpu", "-"), "GPU": prov.get("gpu", "-"),
             "Python": prov.get("python", "-"), "numpy": prov.get("numpy", "-"),
             "torch": prov.get("torch", "-"), "numba": prov.get("numba", "-"),
             "date (UTC)": prov.get("date_utc", "-"),
             "wall time of the last run (s)": _num(prov.get("wall_s")),
             "wall time of all jobs (s, summed)": _num(sum(r["wall_s"] for r in rows
                                                            if "job" in r)),
             "command": prov.get("command", "-")}
    parts += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts.items()]
    parts.append("</tbody></table></section></body></html>")
    return "".join(parts)


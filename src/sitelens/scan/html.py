"""A static HTML report of a scan: one self-contained page, no scripts, no external assets.

Worst images first, the most common rules, then one section per image with its findings and an
inline SVG bar chart of bytes per layer (kept vs hidden). Everything is escaped; nothing is
fetched, so the page opens the same from a CI artifact or a file share.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..findings import SEVERITIES
from ..humanize import human_bytes

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.critical{color:#fff;background:#8b0000}.high{color:#fff;background:#d9534f}
.medium{background:#f0ad4e}.low{background:#cde}.info{background:#eee}.failed{color:#a00;font-weight:bold}
.sev{padding:0 .4em;border-radius:3px;font-size:.85em}.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.9em}
"""


def _layer_chart(layers: list[dict[str, Any]]) -> str:
    if not layers:
        return ""
    width, bar_h, gap, label_w = 640, 16, 6, 60
    peak = max((int(layer.get("size") or 0) for layer in layers), default=0) or 1
    rows = []
    for i, layer in enumerate(layers):
        size = int(layer.get("size") or 0)
        wasted = int(layer.get("wasted_bytes") or 0)
        y = i * (bar_h + gap)
        w = max(1, int((width - label_w) * size / peak)) if size else 0
        ww = min(w, int((width - label_w) * wasted / peak)) if wasted else 0
        rows.append(
            f'<text x="0" y="{y + 12}" font-size="11">layer {layer.get("index", i)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#5b8def">'
            f"<title>{escape(human_bytes(size))}</title></rect>"
            + (f'<rect x="{label_w + w - ww}" y="{y}" width="{ww}" height="{bar_h}" fill="#d9534f">'
               f"<title>hidden later: {escape(human_bytes(wasted))}</title></rect>" if ww else "")
        )
    height = len(layers) * (bar_h + gap)
    return (f'<svg class="layers" role="img" aria-label="bytes per layer" width="{width}" '
            f'height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>')


def render_html(summary: dict[str, Any], images: list[dict[str, Any]]) -> str:
    """``summary`` and ``images`` are the scan's JSON report parts (see scan/report.py)."""
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>sitelens scan report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>sitelens scan report</h1>",
        "<table id=summary>",
    ]
    for key, label in (
        ("images", "Images"), ("audited", "Audited this run"), ("skipped", "Already audited (skipped)"),
        ("failed", "Failed"), ("layers_total", "Layers read"), ("layers_reused", "Layers reused from cache"),
        ("wasted_bytes", "Reclaimable bytes (all images)"),
    ):
        value = summary.get(key)
        shown = human_bytes(value) if key == "wasted_bytes" else escape(str(value if value is not None else "–"))
        out.append(f"<tr><th>{label}</th><td class=num>{shown}</td></tr>")
    out.append("</table>")

    rules = summary.get("top_rules") or []
    if rules:
        out.append("<h2>Most common rules</h2><table id=rules><tr><th>Rule</th><th>Images</th><th>Findings</th></tr>")
        for r in rules:
            out.append(f"<tr><td><code>{escape(r['rule'])}</code> {escape(r.get('title', ''))}</td>"
                       f"<td class=num>{r['images']}</td><td class=num>{r['findings']}</td></tr>")
        out.append("</table>")

    out.append("<h2>Images, worst first</h2><table id=images><tr><th>Image</th><th>Digest</th>"
               + "".join(f"<th>{s}</th>" for s in SEVERITIES) + "<th>Reclaimable</th><th>Status</th></tr>")
    for img in images:
        anchor = escape(img["digest"].replace(":", "-"))
        status = ("<span class=failed>failed</span>" if img["status"] == "failed" else "ok")
        out.append(
            f'<tr><td><a href="#{anchor}">{escape(img["reference"])}</a></td>'
            f"<td><code>{escape(img['digest'][:19])}</code></td>"
            + "".join(f"<td class=num>{img['counts'].get(s, 0)}</td>" for s in SEVERITIES)
            + f"<td class=num>{human_bytes(img.get('wasted_bytes'))}</td><td>{status}</td></tr>"
        )
    out.append("</table>")

    for img in images:
        anchor = escape(img["digest"].replace(":", "-"))
        out.append(f'<section class=image id="{anchor}"><h2>{escape(img["reference"])}</h2>')
        out.append(f"<p><code>{escape(img['digest'])}</code> {escape(img.get('platform') or '')}</p>")
        if img["status"] == "failed":
            out.append(f"<p class=failed>Could not be audited: {escape(img.get('error') or '')}</p></section>")
            continue
        out.append(_layer_chart(img.get("layers") or []))
        findings = img.get("findings") or []
        if not findings:
            out.append("<p>No findings.</p>")
        else:
            out.append("<table class=findings><tr><th>Severity</th><th>Rule</th><th>Finding</th></tr>")
            for f in findings:
                sev = escape(f["severity"])
                muted = " (suppressed)" if f.get("suppressed") else ""
                out.append(
                    f"<tr><td><span class='sev {sev}'>{sev}</span>{muted}</td>"
                    f"<td><a href=\"{escape(f.get('docs', ''))}\"><code>{escape(f['rule'])}</code></a></td>"
                    f"<td><b>{escape(f.get('title', ''))}</b><br>{escape(f.get('message', ''))}</td></tr>"
                )
            out.append("</table>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)

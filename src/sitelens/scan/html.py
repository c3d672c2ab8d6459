"""A static HTML site of a scan report: no scripts, no external assets, every link relative.

Layout of the directory written by ``write_site``:
``index.html`` (+ ``index-N.html``) images worst first, ``by-name.html`` (+ ``by-name-N.html``) the
same sorted by tag — "sorting" is a second pre-rendered order, so no JavaScript is needed —
``images/<digest hex>.html`` one page per image (findings, fixes, layer chart), ``rules/SLnnn.html``
one page per rule (its text and the images it affects). The index table has a fixed layout with
wrapping names so it fits a 1366 px laptop screen whatever the tag lengths.
"""

from __future__ import annotations

import os
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from ..findings import SEVERITIES
from ..report.interface import RenderOptions
from .report import headline, image_label, short_digest, size

PAGE_SIZE = 100

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;color:#222;max-width:1280px;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;width:100%;table-layout:fixed}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4}.critical{color:#fff;background:#8b0000}.high{color:#fff;background:#d9534f}
.medium{background:#f0ad4e}.low{background:#cde}.info{background:#eee}.failed{color:#a00;font-weight:bold}
.sev{padding:0 .4em;border-radius:3px;font-size:.85em}.num{text-align:right;font-variant-numeric:tabular-nums}
col.n{width:5.5em}col.d{width:9em}col.s{width:8em}col.w{width:7em}nav a{margin-right:.8em}
code,pre{font-size:.9em}pre{white-space:pre-wrap;overflow-wrap:anywhere}svg{max-width:100%}
"""


def _page(title: str, body: list[str], depth: int = 0) -> str:
    home = "../" * depth + "index.html"
    return "\n".join([
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f'<nav><a href="{home}">scan report</a></nav><h1>{escape(title)}</h1>',
        *body, "</body></html>",
    ])


def image_file(digest: str) -> str:
    return f"images/{digest.replace(':', '-')}.html"


def rule_file(rule: str) -> str:
    return f"rules/{rule}.html"


def _layer_chart(layers: list[dict[str, Any]]) -> str:
    if not layers:
        return ""
    width, bar_h, gap, label_w = 640, 16, 6, 60
    peak = max((int(layer.get("size") or 0) for layer in layers), default=0) or 1
    rows = []
    for i, layer in enumerate(layers):
        sz = int(layer.get("size") or 0)
        wasted = int(layer.get("wasted_bytes") or 0)
        y = i * (bar_h + gap)
        w = max(1, int((width - label_w) * sz / peak)) if sz else 0
        ww = min(w, int((width - label_w) * wasted / peak)) if wasted else 0
        rows.append(
            f'<text x="0" y="{y + 12}" font-size="11">layer {layer.get("index", i)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#5b8def">'
            f"<title>{escape(size(sz))}</title></rect>"
            + (f'<rect x="{label_w + w - ww}" y="{y}" width="{ww}" height="{bar_h}" fill="#d9534f">'
               f"<title>hidden later: {escape(size(wasted))}</title></rect>" if ww else "")
        )
    height = len(layers) * (bar_h + gap)
    return (f'<svg class="layers" role="img" aria-label="bytes per layer" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
            f'{"".join(rows)}</svg>')


def _status(img: dict[str, Any]) -> str:
    if img["status"] == "failed":
        return f"<span class=failed>failed ({escape(img['reason'] or 'error')})</span>"
    return escape(img["outcome"] or "ok")


def _images_table(images: list[dict[str, Any]]) -> list[str]:
    out = ["<table class=images><colgroup><col><col class=d>" + "<col class=n>" * len(SEVERITIES)
           + "<col class=w><col class=s></colgroup>",
           "<tr><th>Image (tags)</th><th>Digest</th>" + "".join(f"<th>{s}</th>" for s in SEVERITIES)
           + "<th>Reclaimable</th><th>Status</th></tr>"]
    for img in images:
        names = "<br>".join(escape(t) for t in img["tags"]) or escape(img["reference"].split("@")[0])
        out.append(
            f'<tr><td><a href="{image_file(img["digest"])}">{names}</a></td>'
            f"<td><code>{escape(short_digest(img['digest']))}</code></td>"
            + "".join(f"<td class=num>{img['counts'].get(s, 0)}</td>" for s in SEVERITIES)
            + f"<td class=num>{size(img.get('wasted_bytes'))}</td><td>{_status(img)}</td></tr>")
    out.append("</table>")
    return out


def _pager(stem: str, page: int, pages: int) -> str:
    if pages <= 1:
        return ""
    links = [(f"<b>{n}</b>" if n == page else f'<a href="{_page_name(stem, n)}">{n}</a>')
             for n in range(1, pages + 1)]
    return "<nav class=pages>Page " + " ".join(links) + "</nav>"


def _page_name(stem: str, n: int) -> str:
    return f"{stem}.html" if n == 1 else f"{stem}-{n}.html"


def _overview(report: dict[str, Any]) -> list[str]:
    out = [f"<p id=headline>{escape(headline(report))}</p>"]
    if report["failed_targets"]:
        out.append("<h2>Failed</h2><table id=failed><colgroup><col style='width:30%'><col class=s><col>"
                   "</colgroup><tr><th>Target</th><th>Reason</th><th>Error</th></tr>")
        for f in report["failed_targets"]:
            out.append(f"<tr><td>{escape(f['selector'])}</td><td class=failed>{escape(f['reason'] or 'error')}"
                       f"</td><td>{escape(f['error'] or '')}</td></tr>")
        out.append("</table>")
    if report["moved_tags"]:
        out.append("<h2>Moved tags</h2><table id=moved><tr><th>Tag</th><th>From</th><th>To</th>"
                   "<th>New findings</th><th>Fixed findings</th></tr>")
        for m in report["moved_tags"]:
            def rules(fs: list[dict[str, Any]]) -> str:
                return " ".join(f'<a href="{rule_file(f["rule"])}">{escape(f["rule"])}</a>' for f in fs) or "–"
            out.append(f"<tr><td>{escape(m['selector'])}</td><td><code>{escape(short_digest(m['from']))}</code></td>"
                       f'<td><a href="{image_file(m["to"])}"><code>{escape(short_digest(m["to"]))}</code></a></td>'
                       f"<td>{rules(m['new_findings'])}</td><td>{rules(m['fixed_findings'])}</td></tr>")
        out.append("</table>")
    rules_seen = report["summary"]["top_rules"]
    if rules_seen:
        out.append("<h2>Most common rules</h2><table id=rules><colgroup><col class=d><col><col class=n>"
                   "<col class=n></colgroup><tr><th>Rule</th><th>Title</th><th>Images</th><th>Findings</th></tr>")
        for r in rules_seen:
            out.append(f'<tr><td><a href="{rule_file(r["rule"])}">{escape(r["rule"])}</a></td>'
                       f"<td>{escape(r['title'])}</td><td class=num>{r['images']}</td>"
                       f"<td class=num>{r['findings']}</td></tr>")
        out.append("</table>")
    return out


def _index_pages(report: dict[str, Any], stem: str, images: list[dict[str, Any]], order: str) -> dict[str, str]:
    pages = max(1, -(-len(images) // PAGE_SIZE))
    other = ('<a href="by-name.html">sort by name</a>' if stem == "index"
             else '<a href="index.html">sort worst first</a>')
    out = {}
    for n in range(1, pages + 1):
        chunk = images[(n - 1) * PAGE_SIZE:n * PAGE_SIZE]
        body = _overview(report) if n == 1 and stem == "index" else [f"<p>{escape(headline(report))}</p>"]
        body += [f"<h2>Images, {order} ({len(images)})</h2><p>{other}</p>", _pager(stem, n, pages),
                 *_images_table(chunk), _pager(stem, n, pages)]
        out[_page_name(stem, n)] = _page("sitelens scan report", body)
    return out


def _image_page(img: dict[str, Any]) -> str:
    body = [f"<p>Tags: {escape(', '.join(img['tags']) or '–')}<br>Digest: <code>{escape(img['digest'])}</code>"
            f"<br>Platform: {escape(img.get('platform') or '–')}<br>Status: {_status(img)}</p>"]
    if img["status"] == "failed":
        body.append(f"<p class=failed>Could not be audited: {escape(img.get('error') or '')}</p>")
        return _page(image_label(img), body, 1)
    body.append(f"<p>Reclaimable: {size(img.get('wasted_bytes'))} of {size(img.get('total_bytes'))}</p>")
    body.append(_layer_chart(img.get("layers") or []))
    findings = img.get("findings") or []
    if not findings:
        body.append("<p>No findings.</p>")
    else:
        body.append("<h2>Findings</h2><table class=findings><colgroup><col class=s><col class=w><col><col>"
                    "</colgroup><tr><th>Severity</th><th>Rule</th><th>Finding</th><th>Fix</th></tr>")
        for f in findings:
            sev = escape(f["severity"])
            muted = "<br>(suppressed)" if f.get("suppressed") else ""
            body.append(
                f"<tr><td><span class='sev {sev}'>{sev}</span>{muted}</td>"
                f'<td><a href="../{rule_file(f["rule"])}">{escape(f["rule"])}</a></td>'
                f"<td><b>{escape(f.get('title') or '')}</b><br>{escape(f.get('message') or '')}</td>"
                f"<td>{escape(f.get('remediation') or '')}</td></tr>")
        body.append("</table>")
    return _page(image_label(img), body, 1)


def _rule_pages(images: list[dict[str, Any]]) -> dict[str, str]:
    from ..rules.catalog import rule_page

    affected: dict[str, list[dict[str, Any]]] = {}
    for img in images:
        for rule in sorted({f["rule"] for f in img["findings"]}):
            affected.setdefault(rule, []).append(img)
    pages = {}
    for rule, imgs in sorted(affected.items()):
        try:
            text = rule_page(rule)
        except Exception:  # noqa: BLE001 - a rule this version does not know still gets a page
            text = ""
        items = "".join(f'<li><a href="../{image_file(i["digest"])}">{escape(image_label(i))}</a></li>'
                        for i in sorted(imgs, key=lambda i: (i["tags"][:1], i["digest"])))
        body = [f"<h2>Affected images ({len(imgs)})</h2><ul>{items}</ul>", f"<h2>About {escape(rule)}</h2>",
                f"<pre>{escape(text)}</pre>"]
        pages[rule_file(rule)] = _page(rule, body, 1)
    return pages


def render_site(report: dict[str, Any]) -> dict[str, str]:
    """Relative path → page text, for every page of the site."""
    images = [i for i in report["images"] if i["digest"]]
    by_name = sorted(images, key=lambda i: (i["tags"][:1] or [i["reference"]], i["digest"]))
    files = {**_index_pages(report, "index", images, "worst first"),
             **_index_pages(report, "by-name", by_name, "by name")}
    for img in images:
        files[image_file(img["digest"])] = _image_page(img)
    files.update(_rule_pages(images))
    return files


class HtmlSiteRenderer:
    """The ``html`` entry of the scan formats (``report/formats.py``): a directory of pages."""

    name = "html"
    description = "a static site: overview, images worst first and by name, a page per image and rule"

    def render(self, result: dict[str, Any], options: RenderOptions) -> str:
        return self.render_files(result, options)[_page_name("index", 1)]

    def render_files(self, result: dict[str, Any], options: RenderOptions) -> dict[str, str]:
        return render_site(result)


RENDERER = HtmlSiteRenderer()


def write_site(report: dict[str, Any], dest: Path) -> None:
    write_files(RENDERER.render_files(report, RenderOptions()), dest)


def write_files(files: dict[str, str], dest: Path) -> None:
    """Write a site's pages (relative path → text) into ``dest`` (created); each page
    atomically, so a reader never sees half."""
    for rel, text in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)

"""A registry on 127.0.0.1 that misbehaves on purpose, one behaviour per repository name.

It serves the demo image over the distribution API (``/v2/<repo>/manifests|blobs``, ``_catalog``,
``tags/list``) and, depending on ``<repo>``, streams a blob forever, trickles a manifest a byte
at a time, loops redirects or pagination, asks to retry in an hour, lies about Content-Length or
Content-Encoding. It is a real HTTP server in a thread (http.server), started once per process;
the CLI under test talks to it from a child process.
"""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import time
from functools import lru_cache
from typing import Any

from .kit import demo, nested, sha

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Image:
    def __init__(self) -> None:
        built = demo().built()
        self.config = built.config
        self.blobs = {sha(built.config): built.config}
        for blob, _, _ in built.layers:
            self.blobs[sha(blob)] = blob
        self.manifest = built.manifest()
        self.manifest_doc: dict[str, Any] = json.loads(self.manifest)

    def manifest_with(self, **changes: Any) -> bytes:
        doc = json.loads(self.manifest)
        doc.update(changes)
        return json.dumps(doc).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    image: Image

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        h = {"Content-Length": str(len(body)), "Docker-Distribution-API-Version": "registry/2.0"}
        h.update(headers or {})
        for k, v in h.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _forever(self, headers: dict[str, str], delay: float = 0.0, chunk: bytes = b"\0" * 65536) -> None:
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            while True:
                self.wfile.write(chunk)
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
        except OSError:
            return  # the client went away: that is the point

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path in ("/v2/", "/v2"):
            return self._send(200, b"{}")
        if path == "/v2/_catalog":
            return self._catalog()
        parts = path[len("/v2/"):].split("/")
        if len(parts) < 3:
            return self._send(404)
        repo, kind, ref = parts[0], parts[-2], parts[-1]
        behave = BEHAVIOURS.get(repo)
        if behave is None:
            return self._send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no such repo"}]}')
        behave(self, kind, ref)

    def _catalog(self) -> None:
        mode = getattr(self.server, "catalog_mode", "loop")
        if mode == "loop":
            # rel="next" pointing back at the same page, forever
            return self._send(200, json.dumps({"repositories": ["good"]}).encode(),
                              {"Link": '</v2/_catalog?n=100&last=good>; rel="next"',
                               "Content-Type": "application/json"})
        if mode == "types":
            return self._send(200, json.dumps({"repositories": [1, "good", 2.5, None]}).encode())
        if mode == "list":
            return self._send(200, b'["good"]')
        return self._send(200, b'{"repositories": ' + nested(100_000) + b"}")

    # -- the plain, correct image ------------------------------------------------------------

    def serve_image(self, kind: str, ref: str, manifest: bytes | None = None) -> None:
        img = self.image
        if kind == "manifests":
            body = manifest if manifest is not None else img.manifest
            return self._send(200, body, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha(body)})
        if kind == "blobs" and ref in img.blobs:
            return self._send(200, img.blobs[ref], {"Content-Type": "application/octet-stream"})
        if kind == "list":  # tags/list
            return self._send(200, b'{"name": "x", "tags": [1, null, "latest"]}')
        return self._send(404)


def _good(h: Handler, kind: str, ref: str) -> None:
    h.serve_image(kind, ref)


def _blob_forever(h: Handler, kind: str, ref: str) -> None:
    first_layer = h.image.manifest_doc["layers"][0]["digest"]
    if kind == "blobs" and ref == first_layer:
        return h._forever({"Content-Type": "application/octet-stream"}, chunk=b"\x1f\x8b" + b"\0" * 65534)
    if kind == "manifests":
        doc = dict(h.image.manifest_doc)
        doc["layers"] = [dict(doc["layers"][0], size=1024), *doc["layers"][1:]]
        return h.serve_image(kind, ref, json.dumps(doc).encode())
    h.serve_image(kind, ref)


def _blob_forever_no_size(h: Handler, kind: str, ref: str) -> None:
    first_layer = h.image.manifest_doc["layers"][0]["digest"]
    if kind == "blobs" and ref == first_layer:
        return h._forever({"Content-Type": "application/octet-stream"})
    h.serve_image(kind, ref)


def _trickle(h: Handler, kind: str, ref: str) -> None:
    if kind == "manifests":
        body = h.image.manifest
        h.send_response(200)
        h.send_header("Content-Type", OCI_MANIFEST)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            for i in range(len(body)):
                h.wfile.write(body[i:i + 1])
                h.wfile.flush()
                time.sleep(5)
        except OSError:
            return
        return
    h.serve_image(kind, ref)


def _retry_after(h: Handler, kind: str, ref: str) -> None:
    h._send(503, b"", {"Retry-After": "3600"})


def _retry_after_date(h: Handler, kind: str, ref: str) -> None:
    h._send(429, b"", {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"})


def _retry_after_garbage(h: Handler, kind: str, ref: str) -> None:
    h._send(503, b"", {"Retry-After": "nan"})


def _redirect(target: str) -> Any:
    def behave(h: Handler, kind: str, ref: str) -> None:
        h._send(302, b"", {"Location": target.replace("{self}", h.path)})
    return behave


def _gzip_plain(h: Handler, kind: str, ref: str) -> None:
    if kind == "manifests":
        body = h.image.manifest
        return h._send(200, body, {"Content-Type": OCI_MANIFEST, "Content-Encoding": "gzip"})
    h.serve_image(kind, ref)


def _gzip_garbage(h: Handler, kind: str, ref: str) -> None:
    if kind == "manifests":
        body = gzip.compress(h.image.manifest)[:-20] + b"garbage"
        return h._send(200, body, {"Content-Type": OCI_MANIFEST, "Content-Encoding": "gzip"})
    h.serve_image(kind, ref)


def _huge(length: str) -> Any:
    def behave(h: Handler, kind: str, ref: str) -> None:
        if kind == "manifests":
            return h._forever({"Content-Type": OCI_MANIFEST, "Content-Length": length},
                              chunk=b" " * 65536)
        h.serve_image(kind, ref)
    return behave


def _manifest(body_of: Any) -> Any:
    def behave(h: Handler, kind: str, ref: str) -> None:
        if kind == "manifests":
            return h.serve_image(kind, ref, body_of(h.image))
        h.serve_image(kind, ref)
    return behave


def _no_answer(h: Handler, kind: str, ref: str) -> None:
    time.sleep(120)


def _error_forever(h: Handler, kind: str, ref: str) -> None:
    h.send_response(404)
    h.send_header("Content-Type", "application/json")
    h.end_headers()
    try:
        h.wfile.write(b'{"errors": [')
        while True:
            h.wfile.write(b'{"code": "x"},' * 4096)
    except OSError:
        return


def _config_types(h: Handler, kind: str, ref: str) -> None:
    img = h.image
    cfg = json.loads(img.config)
    cfg["config"]["User"] = 5
    raw = json.dumps(cfg).encode()
    doc = dict(img.manifest_doc, config=dict(img.manifest_doc["config"], digest=sha(raw), size=len(raw)))
    if kind == "blobs" and ref == sha(raw):
        return h._send(200, raw)
    if kind == "manifests":
        return h.serve_image(kind, ref, json.dumps(doc).encode())
    h.serve_image(kind, ref)


def _index_loop(h: Handler, kind: str, ref: str) -> None:
    # an index whose only entry is itself (by tag: the digest differs, so this loops by content)
    body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                      "digest": "sha256:" + "a" * 64, "size": 10,
                                      "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    h._send(200, body, {"Content-Type": "application/vnd.oci.image.index.v1+json"})


BEHAVIOURS: dict[str, Any] = {
    "good": _good,
    "blob-forever": _blob_forever,
    "blob-forever-no-size": _blob_forever_no_size,
    "trickle": _trickle,
    "retry-after-hour": _retry_after,
    "retry-after-date": _retry_after_date,
    "retry-after-nan": _retry_after_garbage,
    "redirect-loop": _redirect("{self}"),
    "redirect-ftp": _redirect("ftp://127.0.0.1/x"),
    "redirect-bad-ipv6": _redirect("http://[::1"),
    "redirect-file": _redirect("file:///etc/passwd"),
    "gzip-plain": _gzip_plain,
    "gzip-garbage": _gzip_garbage,
    "huge-length": _huge("2000000000"),
    "huge-length-2e9": _huge("2e9"),
    "deep-manifest": _manifest(lambda img: b'{"schemaVersion": 2, "layers": ' + nested(100_000) + b"}"),
    "manifest-types": _manifest(lambda img: img.manifest_with(layers=[1, "x"], config=5)),
    "manifest-sizes": _manifest(lambda img: img.manifest_with(
        layers=[dict(ly, size=-1) for ly in img.manifest_doc["layers"]])),
    "manifest-not-json": _manifest(lambda img: b"\xff\xfe not json"),
    "index-loop": _index_loop,
    "no-answer": _no_answer,
    "error-forever": _error_forever,
    "config-types": _config_types,
}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    catalog_mode = "loop"


@lru_cache(maxsize=8)
def hostile_registry(catalog: str = "loop") -> str:
    """``127.0.0.1:PORT`` of the process's hostile registry (started on first use); ``catalog``
    picks how its ``_catalog`` misbehaves: loop, types, list or deep."""
    Handler.image = Image()
    server = _Server(("127.0.0.1", 0), Handler)
    server.catalog_mode = catalog
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"127.0.0.1:{server.server_address[1]}"

"""``registry:NAME[:TAG|@DIGEST]``: the OCI distribution API, blobs streamed into the indexer.

Manifests and the config are small and read whole (and checked against their digests); layer
blobs are HTTP response streams handed to the loader, which hashes them as they flow, so an
image is never stored. Transient failures (429, 5xx, timeouts, a dropped connection) are retried
with exponential backoff honouring ``Retry-After``; a blob stream that breaks mid-way resumes
with a ``Range`` request. ``requests`` is used because the docker SDK already depends on it.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import os
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3

from .. import __version__
from ..errors import AuthError, CorruptImage, ImageError, ImageNotFound, RegistryUnreachable
from ..image import Image, Layer
from .auth import Challenge, Credentials, lookup, missing_helpers, parse_challenge
from .base import SourceOptions
from .manifest import (
    ACCEPT,
    build_image,
    document_kind,
    index_entries,
    load_json,
    manifest_parts,
    select_platform,
    sha256_digest,
    verify_digest,
)
from .reference import ImageName

RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_DOCUMENT = 16 << 20
MAX_ERROR_BODY = 64 << 10
# A Retry-After up to this is waited (within the deadline); a registry that asks for longer is
# reported at once as rate limiting rather than sitting out an hour.
MAX_RETRY_AFTER = 60.0
MAX_REDIRECTS = 5
CHUNK = 1 << 20


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _no_retry(exc: Exception) -> bool:
    # A refused connection or an unknown host will not get better by waiting.
    text = str(exc)
    return "refused" in text or "Name or service not known" in text or "nodename nor servname" in text


def _retry_after(resp: Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(0.0, seconds) if seconds == seconds else None  # NaN is no answer


class Response(Protocol):
    """What the client reads of an HTTP response: requests' own, or :class:`_DirectResponse`."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def raw(self) -> Any: ...

    def close(self) -> None: ...


def _read_body(resp: Response, limit: int, deadline: float, where: str, what: str) -> bytes:
    """At most ``limit`` bytes of a response body, refused early when Content-Length says more.

    ``read1`` returns after one socket read, so a server that trickles a byte every few seconds
    meets the deadline instead of holding a ``read(n)`` for hours; the raw (undecoded) bytes are
    what digests are computed over, whatever Content-Encoding claims.
    """
    declared = resp.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        resp.close()
        raise CorruptImage(f"{where}: {what} is implausibly large ({int(declared)} bytes declared)")
    data = bytearray()
    try:
        while True:
            if time.monotonic() > deadline:
                raise RegistryUnreachable(f"{where}: timed out reading {what} (see --timeout)")
            chunk = resp.raw.read1(CHUNK)
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > limit:
                raise CorruptImage(f"{where}: {what} is implausibly large (over {limit} bytes)")
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise RegistryUnreachable(f"{where}: connection lost reading {what} ({_short(exc)})") from None
    finally:
        resp.close()


def _error_detail(resp: Response, deadline: float | None = None) -> str:
    """The registry's error code/message (distribution's ``{"errors": [...]}``), if any."""
    try:
        body = _read_body(resp, MAX_ERROR_BODY, deadline or time.monotonic() + 10, "registry", "error")
        errors = json.loads(body).get("errors") or []
        e = errors[0]
        return f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")[:300]
    except (ValueError, AttributeError, IndexError, TypeError, KeyError, RecursionError, ImageError):
        return f"HTTP {resp.status_code}"


class _Session(requests.Session):
    """A session that reads the proxy environment once per origin instead of per request.

    With ``trust_env`` on, requests runs ``get_environ_proxies`` (every environment variable
    walked twice, ``no_proxy`` matched) for each request: ≈0.4 ms of CPU, 40 % of a HEAD on a
    loopback registry and most of a no-op rescan's cost per tag. The environment does not change
    during a run, so the answer per (scheme, host) is kept; the rest is requests' own merge.
    Redirects (blob storage on another host) still resolve their proxies in requests.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        if not self.trust_env or proxies is None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        split = urlsplit(url)
        key = (split.scheme, split.netloc, proxies.get("no_proxy"))
        found = self._environ_proxies.get(key)
        if found is None:
            found = self._environ_proxies[key] = requests.utils.get_environ_proxies(url, no_proxy=key[2])
        for k, v in found.items():
            proxies.setdefault(k, v)
        if verify is True or verify is None:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        merge = requests.sessions.merge_setting
        return {"proxies": merge(proxies, self.proxies), "stream": merge(stream, self.stream),
                "verify": merge(verify, self.verify), "cert": merge(cert, self.cert)}


class _DirectResponse:
    """A response read straight from urllib3 (see :meth:`RegistryClient._direct`)."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, method: str) -> None:
        self.raw = raw
        self.status_code = raw.status
        self.headers: Mapping[str, str] = raw.headers
        self._head = method == "HEAD"

    def close(self) -> None:
        if self._head:
            self.raw.drain_conn()  # reading the empty body hands the connection back for the next request
        elif self.raw.connection is not None:
            self.raw.close()  # a body left unread: drop the connection, as requests does
        self.raw.release_conn()


def _requests_error(exc: Exception) -> Exception:
    """The requests exception its adapter would have raised for this urllib3 one, so that one
    handler (retries, scheme probing, messages) serves both ways of sending."""
    e = urllib3.exceptions
    if isinstance(exc, e.MaxRetryError):
        reason = exc.reason
        if isinstance(reason, e.ConnectTimeoutError) and not isinstance(reason, e.NewConnectionError):
            return requests.ConnectTimeout(exc)
        if isinstance(reason, e.SSLError):
            return requests.exceptions.SSLError(exc)
        return requests.ConnectionError(exc)
    if isinstance(exc, e.SSLError):
        return requests.exceptions.SSLError(exc)
    if isinstance(exc, e.ReadTimeoutError):
        return requests.ReadTimeout(exc)
    if isinstance(exc, (e.ProtocolError, e.ClosedPoolError, OSError)):
        return requests.ConnectionError(exc)
    return exc


# host -> the scheme a plain-HTTP-capable registry answered on, settled once per process: a scan
# makes a client per repository and image, and probing HTTPS (loading the CA bundle) each time
# cost a loopback registry about 0.4 s per image
_SETTLED_SCHEMES: dict[str, str] = {}


class RegistryClient:
    def __init__(self, name: ImageName, opts: SourceOptions) -> None:
        self.name = name
        self.opts = opts
        self.host = name.api_host
        self.insecure = self.host in opts.insecure_registries or name.domain in opts.insecure_registries
        self.http_allowed = self.insecure or is_loopback(self.host)
        self.scheme = _SETTLED_SCHEMES.get(self.host, "https") if self.http_allowed else "https"
        self._scheme_decided = not self.http_allowed or self.host in _SETTLED_SCHEMES
        self._scheme_remembered = self.http_allowed and self.host in _SETTLED_SCHEMES
        self.session = _Session()
        self.session.headers["User-Agent"] = f"sitelens/{__version__}"
        # digests are over the bytes as stored: ask for them as stored
        self.session.headers["Accept-Encoding"] = "identity"
        self.session.max_redirects = MAX_REDIRECTS
        self.deadline = time.monotonic() + opts.deadline
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=8)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        # Passed on every call: requests lets REQUESTS_CA_BUNDLE override a session-level False.
        self.verify = not self.insecure
        if self.insecure:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._creds: Credentials | None = None
        self._creds_loaded = False
        self._authz: str | None = None
        self._lock = threading.Lock()
        self._direct_routes: dict[str, tuple[requests.adapters.HTTPAdapter, requests.PreparedRequest, Any] | None] = {}
        self._direct_pools: dict[str, urllib3.HTTPConnectionPool] = {}  # by scheme
        self.sleep = time.sleep  # tests may speed this up

    # -- plumbing ------------------------------------------------------------------------------

    def close(self) -> None:
        self.session.close()

    @property
    def creds(self) -> Credentials | None:
        if not self._creds_loaded:
            self._creds = lookup(self.name.domain, self.opts)
            self._creds_loaded = True
        return self._creds

    def time_left(self, what: str) -> float:
        """Seconds left of the overall deadline; RegistryUnreachable once it has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RegistryUnreachable(
                f"{self.host}: gave up after {self.opts.deadline:.0f} s ({what}); see --timeout"
            )
        return left

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{self.name.repository}/{path}"

    def _direct_route(self) -> tuple[requests.adapters.HTTPAdapter, requests.PreparedRequest, Any] | None:
        """(adapter, a request to the origin, verify) when this origin's requests can skip requests'
        per-request machinery: no proxy and no .netrc entry apply (what requests reads from the
        environment, asked once), and the adapter can hand out its TLS-configured pool."""
        origin = f"{self.scheme}://{self.host}/v2/"
        adapter = self.session.get_adapter(origin)
        if not isinstance(adapter, requests.adapters.HTTPAdapter) or \
                not hasattr(adapter, "get_connection_with_tls_context"):  # requests < 2.32.2
            return None
        settings = self.session.merge_environment_settings(origin, {}, True, self.verify, None)
        if requests.utils.select_proxy(origin, settings["proxies"]):
            return None
        if self.session.trust_env and requests.utils.get_netrc_auth(origin):
            return None
        return adapter, requests.Request("GET", origin).prepare(), settings["verify"]

    def _direct(self, method: str, path: str, headers: dict[str, str], timeout: float) -> Response | None:
        """Send a manifest or listing request through the adapter's urllib3 pool itself, or None
        for requests to send it. requests' Session costs ≈ 0.6 ms of CPU per request over
        urllib3's 0.35 ms (preparing, cookies, hooks, redirect handling, environment merging):
        most of a no-op rescan's client time, one HEAD per tag. What needs that machinery goes
        through requests: blobs (their redirects to storage), a scheme not yet settled, a session
        holding cookies, and any redirect answered here (sent again through requests)."""
        if method not in ("GET", "HEAD") or path.startswith("blobs/") or not self._scheme_decided \
                or self.session.cookies:
            return None
        if self.scheme not in self._direct_routes:
            self._direct_routes[self.scheme] = self._direct_route()
        route = self._direct_routes[self.scheme]
        if route is None:
            return None
        adapter, origin, verify = route
        url = self.url(path)
        merged = dict(self.session.headers)
        merged.update(headers)  # the request's own headers win, as in requests
        try:
            pool = self._direct_pools.get(self.scheme)
            if pool is None or pool.pool is None:  # the first request, or the adapter closed its pool
                pool = self._direct_pools[self.scheme] = adapter.get_connection_with_tls_context(
                    origin, verify, proxies=None, cert=None)
            raw = pool.urlopen(method, url[len(f"{self.scheme}://{self.host}"):], headers=merged, redirect=False,
                               assert_same_host=False, preload_content=False, decode_content=False,
                               retries=adapter.max_retries, timeout=urllib3.Timeout(connect=timeout, read=timeout))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            mapped = _requests_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        resp = _DirectResponse(raw, method)
        if raw.get_redirect_location():
            resp.close()
            return None
        if "Set-Cookie" in raw.headers:  # kept as requests would; from now on requests sends them
            requests.cookies.extract_cookies_to_jar(
                self.session.cookies, requests.Request(method, url, headers=merged).prepare(), raw)
        return resp

    def _send(self, method: str, path: str, headers: dict[str, str], stream: bool) -> Response:
        """One request with retries; the scheme is settled on the first contact."""
        attempt = 0
        while True:
            h = dict(headers)
            if self._authz:
                h["Authorization"] = self._authz
            timeout = min(self.opts.timeout, self.time_left(path.split("/", 1)[0]))
            try:
                try:
                    resp = self._direct(method, path, h, timeout) or self.session.request(
                        method, self.url(path), headers=h, stream=stream, timeout=timeout,
                        verify=self.verify,
                    )
                except (requests.ConnectionError, requests.exceptions.SSLError):
                    if not self._scheme_remembered:
                        raise
                    # the remembered scheme no longer answers (another server on that port): probe again
                    _SETTLED_SCHEMES.pop(self.host, None)
                    self.scheme, self._scheme_decided, self._scheme_remembered = "https", False, False
                    continue
            except requests.exceptions.SSLError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    # it does speak TLS, with a certificate we cannot trust: never downgrade
                    raise RegistryUnreachable(
                        f"{self.host}: TLS certificate not trusted; pass --insecure-registry {self.host} "
                        "to skip verification"
                    ) from None
                if not self._scheme_decided:
                    self.scheme = "http"  # a plain-HTTP loopback registry: settled by its answer
                    continue
                raise RegistryUnreachable(f"{self.host}: TLS error ({_short(exc)})") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not self._scheme_decided and not isinstance(exc, requests.Timeout) and self.scheme == "https":
                    self.scheme = "http"  # settled once the registry answers on it
                    continue
                if _no_retry(exc) or attempt >= self.opts.retries:
                    raise RegistryUnreachable(f"{self.host}: registry unreachable ({_short(exc)})") from None
                self.sleep(min(self._backoff(attempt), self.time_left(path)))
                attempt += 1
                continue
            except requests.TooManyRedirects:
                raise RegistryUnreachable(f"{self.host}: more than {MAX_REDIRECTS} redirects for {path}") from None
            except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
                    requests.exceptions.MissingSchema) as exc:
                raise RegistryUnreachable(f"{self.host}: redirected to an unusable URL ({_short(exc)})") from None
            except (requests.RequestException, urllib3.exceptions.HTTPError, ValueError) as exc:
                raise RegistryUnreachable(f"{self.host}: request failed ({_short(exc)})") from None
            if not self._scheme_decided:
                self._scheme_decided = True
                _SETTLED_SCHEMES[self.host] = self.scheme
            if resp.status_code in RETRY_STATUS and attempt < self.opts.retries:
                wait = _retry_after(resp)
                resp.close()
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise RegistryUnreachable(
                        f"{self.host}: rate limited (HTTP {resp.status_code}), asked to retry after {wait:.0f} s"
                    )
                self.sleep(min(wait if wait is not None else self._backoff(attempt), self.time_left(path)))
                attempt += 1
                continue
            return resp

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(min(0.25 * (2**attempt), 20.0) * (0.75 + random.random() / 2))

    def request(self, path: str, headers: dict[str, str] | None = None, stream: bool = False,
                method: str = "GET") -> Response:
        """GET (or HEAD) with authentication: answer a 401 challenge once, then give up with AuthError."""
        headers = headers or {}
        resp = self._send(method, path, headers, stream)
        if resp.status_code == 401:
            challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
            resp.close()
            with self._lock:
                self._authenticate(challenge)
            resp = self._send(method, path, headers, stream)
        if resp.status_code in (401, 403):
            detail = _error_detail(resp)
            resp.close()
            who = "with the configured credentials" if self.creds else "anonymously"
            verb = "authentication failed" if resp.status_code == 401 else "access denied"
            # Registries answer 401 rather than 404 for a repository an anonymous user cannot see.
            hint = "" if self.creds else "; the repository may not exist or needs credentials"
            raise AuthError(f"{self.name}: {verb} {who} ({detail}{hint})")
        if resp.status_code in RETRY_STATUS:
            resp.close()
            raise RegistryUnreachable(f"{self.host}: registry keeps failing (HTTP {resp.status_code})")
        return resp

    def _authenticate(self, challenge: Challenge | None) -> None:
        if challenge is None:
            raise AuthError(f"{self.name}: registry demands authentication without a challenge")
        if challenge.scheme == "basic":
            if self.creds is None or self.creds.identity_token:
                missing = missing_helpers(self.name.domain, self.opts)
                if missing:
                    raise AuthError(f"{self.name}: registry requires a username and password; the "
                                    f"configured credential helper {missing[0]} is not installed")
                raise AuthError(f"{self.name}: registry requires a username and password (none configured)")
            self._authz = self.creds.basic_header()
            return
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            raise AuthError(f"{self.name}: unsupported authentication scheme {challenge.scheme!r}")
        self._authz = "Bearer " + self._fetch_token(challenge.params)

    def _fetch_token(self, params: dict[str, str]) -> str:
        realm = params["realm"]
        scope = params.get("scope") or f"repository:{self.name.repository}:pull"
        query = {"scope": scope}
        if params.get("service"):
            query["service"] = params["service"]
        creds = self.creds
        try:
            if creds is not None and creds.identity_token:
                form = dict(query, grant_type="refresh_token", refresh_token=creds.identity_token,
                            client_id="sitelens")
                resp = self.session.post(realm, data=form, timeout=self.opts.timeout, verify=self.verify,
                                         stream=True)
            else:
                headers = {"Authorization": creds.basic_header()} if creds else {}
                resp = self.session.get(realm, params=query, headers=headers, timeout=self.opts.timeout,
                                        verify=self.verify, stream=True)
        except (requests.RequestException, ValueError) as exc:
            raise RegistryUnreachable(f"{self.name}: token server {realm} unreachable ({_short(exc)})") from None
        if resp.status_code in (401, 403):
            resp.close()
            raise AuthError(f"{self.name}: token server refused the credentials (HTTP {resp.status_code})")
        if resp.status_code != 200:
            resp.close()
            raise AuthError(f"{self.name}: token server answered HTTP {resp.status_code}")
        try:
            doc = json.loads(_read_body(resp, MAX_DOCUMENT, self.deadline, str(self.name), "token"))
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError, RecursionError, CorruptImage):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError(f"{self.name}: token server returned no token")
        return token

    def read_small(self, resp: Response, what: str) -> bytes:
        return _read_body(resp, MAX_DOCUMENT, self.deadline, str(self.name), what)

    # -- the distribution API ------------------------------------------------------------------

    def manifest(self, reference: str) -> tuple[dict[str, Any], str, str]:
        """(document, media type, digest) for a tag or digest."""
        resp = self.request(f"manifests/{reference}", {"Accept": ACCEPT}, stream=True)
        if resp.status_code == 404:
            detail = _error_detail(resp)
            resp.close()
            raise ImageNotFound(f"{self.name.domain}/{self.name.repository}:{reference}: not found ({detail})")
        if resp.status_code != 200:
            detail = _error_detail(resp)
            resp.close()
            raise ImageError(f"{self.name}: registry answered HTTP {resp.status_code} for the manifest ({detail})")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        raw = self.read_small(resp, "manifest")
        digest = sha256_digest(raw)
        if ":" in reference and reference.split(":", 1)[0] in ("sha256", "sha512"):
            verify_digest(raw, reference, str(self.name), "manifest")
            digest = reference
        claimed = resp.headers.get("Docker-Content-Digest", "")
        if claimed.startswith("sha256:") and claimed != digest:
            raise CorruptImage(f"{self.name}: manifest digest mismatch: registry says {claimed}, got {digest}")
        return load_json(raw, str(self.name), "manifest"), media_type, digest

    def blob_response(self, digest: str, offset: int = 0) -> Response:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request(f"blobs/{digest}", headers, stream=True)
        if resp.status_code == 404:
            resp.close()
            raise CorruptImage(f"{self.name}: registry has no blob {digest} though the manifest names it")
        if resp.status_code not in (200, 206):
            resp.close()
            raise ImageError(f"{self.name}: registry answered HTTP {resp.status_code} for blob {digest}")
        return resp


class BlobStream:
    """A layer blob as a read()-able stream that resumes after a dropped connection."""

    def __init__(self, client: RegistryClient, digest: str, size: int | None = None) -> None:
        self._client = client
        self._digest = digest
        self._size = size  # what the manifest declares: a blob that sends more is hostile
        self._pos = 0
        self._resp = client.blob_response(digest)
        self._raw: IO[bytes] = self._resp.raw
        self._resumes = 0

    def read(self, size: int = -1) -> bytes:
        while True:
            self._client.time_left(f"reading blob {self._digest[:19]}")
            try:
                # read1: one socket read, so a trickling server meets the deadline
                data = self._raw.read1(size if size is not None and size >= 0 else CHUNK)  # type: ignore[attr-defined]
                self._pos += len(data)
                if self._size is not None and self._pos > self._size:
                    raise CorruptImage(
                        f"{self._client.name}: blob {self._digest[:19]} is longer than the "
                        f"{self._size} bytes its manifest declares"
                    )
                return data
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                self._resp.close()
                if self._resumes >= self._client.opts.retries:
                    raise RegistryUnreachable(
                        f"{self._client.host}: connection lost reading blob {self._digest[:19]} ({_short(exc)})"
                    ) from None
                self._resumes += 1
                self._client.sleep(self._client._backoff(self._resumes))
                self._reopen()

    def _reopen(self) -> None:
        resp = self._client.blob_response(self._digest, self._pos)
        raw: IO[bytes] = resp.raw
        if resp.status_code == 200:
            # No range support: skip what was already delivered.
            left = self._pos
            while left:
                got = raw.read(min(left, CHUNK))
                if not got:
                    break
                left -= len(got)
        self._resp, self._raw = resp, raw

    def close(self) -> None:
        self._resp.close()


_CAUSES = (  # (what urllib3/requests nest deep inside their message, what to tell the user)
    ("Connection refused", "connection refused"),
    ("Name or service not known", "host name does not resolve"),
    ("Temporary failure in name resolution", "host name does not resolve"),
    ("No address associated with hostname", "host name does not resolve"),
    ("Failed to resolve", "host name does not resolve"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted (--insecure-registry HOST to skip)"),
    ("wrong version number", "TLS handshake failed (plain HTTP server?)"),
    ("Connection reset", "connection reset"),
    ("RemoteDisconnected", "connection closed by the server"),
)


def _short(exc: BaseException) -> str:
    """The cause in words ("connection refused"), not a nested repr with unbalanced brackets."""
    if isinstance(exc, (requests.Timeout, TimeoutError)):
        return "timed out"
    text = str(exc)
    for needle, words in _CAUSES:
        if needle in text:
            return words
    # an unknown cause: its innermost message, without the repr wrapping around it
    inner = re.findall(r"\[Errno -?\d+\] ([^'\"\])]+)", text)
    return inner[-1].strip() if inner else type(exc).__name__


def resolve_manifest(client: RegistryClient, where: str) -> tuple[dict[str, Any], str]:
    """Follow indexes down to one image manifest (by platform); returns (manifest, digest)."""
    doc, media_type, digest = client.manifest(client.name.reference)
    for _ in range(4):
        if document_kind(doc, media_type, where) == "manifest":
            return doc, digest
        chosen = select_platform(index_entries(doc, where), client.opts.platform, where)
        doc, media_type, digest = client.manifest(chosen.digest)
        if chosen.media_type and not media_type:
            media_type = chosen.media_type
    raise CorruptImage(f"{where}: image indexes nested too deeply")


@contextmanager
def open_registry(name: ImageName, opts: SourceOptions, reference: str) -> Iterator[Image]:
    client = RegistryClient(name, opts)
    where = str(name)
    try:
        manifest, digest = resolve_manifest(client, where)
        config_d, layer_ds = manifest_parts(manifest, where)
        resp = client.blob_response(config_d.digest)
        config_raw = client.read_small(resp, "config")

        @contextmanager
        def opener(layer: Layer) -> Iterator[IO[bytes]]:
            assert layer.digest is not None
            stream = BlobStream(client, layer.digest, layer.size)
            try:
                yield stream  # type: ignore[misc]
            finally:
                stream.close()

        yield build_image(
            reference,
            digest,
            config_raw,
            config_d.digest,
            [(d.digest, d.media_type, d.size) for d in layer_ds],
            opener,
            where,
        )
    finally:
        client.close()

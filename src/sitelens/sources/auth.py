"""Registry credentials and the authentication challenge flow.

Credentials come, in Docker's order, from explicit options, then ``credHelpers[host]``, then
``credsStore``, then the inline ``auths`` entry of the Docker config file (``--docker-config``,
``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``). Without ``--docker-config``,
podman's auth files are read too, in podman's order: ``$REGISTRY_AUTH_FILE`` (before Docker's
file: it is set on purpose), then, after Docker's, ``$XDG_RUNTIME_DIR/containers/auth.json``
and ``~/.config/containers/auth.json`` (the same ``auths`` format). A 401 carries a
``WWW-Authenticate`` challenge: ``Bearer`` sends us to a token server (anonymously, with basic
credentials, or with an identity token as an OAuth2 refresh token), ``Basic`` wants the
credentials on every request.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AuthError, UsageError
from .base import SourceOptions

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    identity_token: str | None = None  # OAuth2 refresh token ("<token>" user in helpers)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def config_path(opts: SourceOptions) -> Path:
    if opts.docker_config is not None:
        p = Path(opts.docker_config)
        return p / "config.json" if p.is_dir() else p
    base = os.environ.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path(os.path.expanduser("~")) / ".docker" / "config.json"


def config_paths(opts: SourceOptions) -> list[Path]:
    """Every auth file to consult, first match wins (see the module docstring)."""
    if opts.docker_config is not None:
        return [config_path(opts)]
    paths = []
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        paths.append(Path(explicit))
    paths.append(config_path(opts))
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        paths.append(Path(runtime) / "containers" / "auth.json")
    paths.append(Path(os.path.expanduser("~")) / ".config" / "containers" / "auth.json")
    return list(dict.fromkeys(paths))


def missing_helpers(domain: str, opts: SourceOptions) -> list[str]:
    """Credential helpers the auth files name for ``domain`` that are not on PATH, so that
    "authentication required" can say which program to install instead of blaming the user."""
    keys = _keys_for(domain)
    out = []
    for path in config_paths(opts):
        doc = _load_config(path)
        helpers = doc.get("credHelpers") or {}
        named = [h for k, h in helpers.items() if _host_of(k) in keys] if isinstance(helpers, dict) else []
        store = doc.get("credsStore")
        named += [store] if isinstance(store, str) and store else []
        out += [f"docker-credential-{h}" for h in named
                if isinstance(h, str) and shutil.which(f"docker-credential-{h}") is None]
    return list(dict.fromkeys(out))


def _load_config(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read docker config {path}: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"docker config {path} is not valid JSON") from None
    return doc if isinstance(doc, dict) else {}


def _host_of(key: str) -> str:
    """``https://host:port/v1/`` → ``host:port`` (auths keys come in both spellings)."""
    key = re.sub(r"^[a-z]+://", "", key)
    return key.split("/", 1)[0]


def _keys_for(domain: str) -> tuple[str, ...]:
    return DOCKER_HUB_KEYS if domain == "docker.io" else (domain,)


def from_helper(helper: str, server: str) -> Credentials | None:
    """Ask ``docker-credential-<helper> get``; None when it has nothing for this server."""
    exe = shutil.which(f"docker-credential-{helper}")
    if exe is None:
        return None  # like a missing entry: anonymous access may still work
    try:
        res = subprocess.run(
            [exe, "get"], input=server.encode(), capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AuthError(f"credential helper docker-credential-{helper} failed: {exc}") from None
    if res.returncode != 0:
        # "credentials not found in native keychain" is the protocol's way to say "none"
        return None
    try:
        doc = json.loads(res.stdout)
        user, secret = str(doc["Username"]), str(doc["Secret"])
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"credential helper docker-credential-{helper} returned malformed output") from None
    if user == "<token>":
        return Credentials("", "", identity_token=secret)
    return Credentials(user, secret)


def lookup(domain: str, opts: SourceOptions) -> Credentials | None:
    if opts.username is not None:
        return Credentials(opts.username, opts.password or "")
    for path in config_paths(opts):
        creds = _lookup_in(_load_config(path), domain)
        if creds is not None:
            return creds
    return None


def _lookup_in(doc: dict[str, Any], domain: str) -> Credentials | None:
    keys = _keys_for(domain)
    helpers = doc.get("credHelpers") or {}
    if isinstance(helpers, dict):
        for k, helper in helpers.items():
            if _host_of(k) in keys and isinstance(helper, str):
                return from_helper(helper, keys[0])
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        creds = from_helper(store, keys[0])
        if creds is not None:
            return creds
    auths = doc.get("auths") or {}
    if not isinstance(auths, dict):
        return None
    for k, entry in auths.items():
        if _host_of(k) not in keys or not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            return Credentials("", "", identity_token=str(entry["identitytoken"]))
        if entry.get("auth"):
            try:
                user, _, pw = base64.b64decode(str(entry["auth"])).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise UsageError(f"docker config: malformed auth entry for {k}") from None
            return Credentials(user, pw)
        if entry.get("username"):
            return Credentials(str(entry["username"]), str(entry.get("password") or ""))
    return None


_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)

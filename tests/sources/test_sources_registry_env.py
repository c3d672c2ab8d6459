"""The registry client reads the proxy environment once per origin, with requests' own rules:
HTTPS_PROXY applies, NO_PROXY exempts a host, REQUESTS_CA_BUNDLE still overrides verification."""

from __future__ import annotations

import pytest
import requests

from sitelens.sources import registry
from sitelens.sources.base import SourceOptions
from sitelens.sources.reference import ImageName


def test_proxy_environment_is_read_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    calls: list[str] = []
    real = requests.utils.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting)
    session = registry.RegistryClient(ImageName("registry.example", "team/app"), SourceOptions()).session
    for tag in ("v1", "v2", "v3"):
        merged = session.merge_environment_settings(
            f"https://registry.example/v2/team/app/manifests/{tag}", {}, None, True, None)
        assert merged["proxies"]["https"] == "http://proxy.example:3128"
        assert merged["verify"] == "/etc/ssl/certs/ca-certificates.crt"
    assert len(calls) == 1
    inside = session.merge_environment_settings("https://internal.example/v2/", {}, None, False, None)
    assert "https" not in inside["proxies"] and inside["verify"] is False  # an explicit False stays False
    assert len(calls) == 2
    # what plain requests would have answered, for both hosts
    plain = requests.Session()
    for url in ("https://registry.example/v2/x", "https://internal.example/v2/"):
        assert (plain.merge_environment_settings(url, {}, None, True, None)["proxies"]
                == session.merge_environment_settings(url, {}, None, True, None)["proxies"])

"""Dockerfile instructions matched to layers by created_by, in the forms real builders write."""

from __future__ import annotations

from report_support import DEMO_DOCKERFILE

from sitelens.report.dockerfile import match_layer, parse_dockerfile, user_line

MULTI = """\
FROM python:3.12 AS build
RUN pip wheel -w /w .
FROM python:3.12-slim
COPY --from=build /w /w
RUN pip install /w/*.whl \\
    # a comment inside a continuation
    && rm -rf /w
COPY --chown=1001:0 app/ /app/
USER 1001
"""


def _line(created_by: str, text: str = MULTI) -> int | None:
    ins = match_layer(created_by, parse_dockerfile(text))
    return None if ins is None else ins.line


def test_buildkit_history() -> None:
    assert _line("RUN /bin/sh -c pip install /w/*.whl && rm -rf /w # buildkit") == 5
    assert _line("COPY /w /w # buildkit") == 4
    assert _line("COPY app/ /app/ # buildkit") == 8


def test_legacy_builder_history() -> None:
    assert _line("/bin/sh -c pip install /w/*.whl     && rm -rf /w") == 5
    assert _line("/bin/sh -c #(nop) COPY dir:0123abcd in /app/ ") == 8
    assert _line("/bin/sh -c #(nop)  USER 1001") is None  # makes no layer


def test_only_the_final_stage_and_unknown_commands() -> None:
    assert _line("RUN /bin/sh -c pip wheel -w /w . # buildkit") is None  # build stage only
    assert _line("RUN /bin/sh -c something else # buildkit") is None
    assert _line(None) is None


def test_demo_history_with_trailing_comment() -> None:
    # the demo image's layer 0 records a shell comment the Dockerfile does not have
    assert _line("RUN apt-get install -y --no-install-recommends python3-jinja2  # Debian 12",
                 DEMO_DOCKERFILE) == 3


def test_user_line() -> None:
    user = user_line(parse_dockerfile(MULTI))
    assert user is not None and (user.line, user.keyword) == (9, "USER")
    first = user_line(parse_dockerfile(DEMO_DOCKERFILE))
    assert first is not None and first.keyword == "FROM"

"""Find the Dockerfile line that made a layer, from the layer's ``created_by``.

Docker and BuildKit record each instruction in the image history: BuildKit writes
``RUN /bin/sh -c pip install x # buildkit`` or ``COPY app /app # buildkit``; the legacy builder
``/bin/sh -c pip install x`` or ``/bin/sh -c #(nop) COPY file:<hash> in /app``. The history keeps
the instruction's arguments but not its line, so a layer is matched to the instruction whose
normalised text it equals (or, for the legacy builder's rewritten COPY/ADD sources, whose
keyword and destination it shares). Only ``RUN``, ``COPY`` and ``ADD`` make layers.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..humanize import plain_command

LAYER_KEYWORDS = ("RUN", "COPY", "ADD")
_FLAGS = re.compile(r"^(?:--\S+\s+)*")  # --chown=, --mount=, --link ... are not recorded alike
_COMMENT = re.compile(r"\s+#\s.*$")  # a trailing shell comment, kept by some builders only


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based line of the keyword
    keyword: str  # upper case
    args: str  # continuation lines joined, whitespace folded, heredoc bodies left out
    stage: int  # 0-based FROM stage


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their first line; comments and blank lines skipped, ``\\`` joined."""
    out: list[Instruction] = []
    stage = -1
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i].strip()
        start = i + 1
        i += 1
        if not raw or raw.startswith("#"):
            continue
        parts = [raw]
        while parts[-1].endswith("\\") and i < len(lines):
            parts[-1] = parts[-1][:-1]
            # comment lines inside a continuation are dropped; the continuation goes on
            while i < len(lines) and lines[i].strip().startswith("#"):
                i += 1
            if i < len(lines):
                parts.append(lines[i].strip())
                i += 1
        keyword, _, args = " ".join(parts).partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(start, keyword, " ".join(args.split()), max(stage, 0)))
    return out


def read_dockerfile(path: Path) -> list[Instruction]:
    try:
        return parse_dockerfile(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read Dockerfile {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"Dockerfile {path} is not UTF-8 text") from None


def _split(created_by: str) -> tuple[str, str]:
    text = plain_command(created_by)
    head, _, rest = text.partition(" ")
    if head.upper() in (*LAYER_KEYWORDS, "WORKDIR", "USER", "ENV", "CMD", "ENTRYPOINT"):
        return head.upper(), rest
    return "RUN", text  # the legacy builder records RUN as the bare shell command


def _destination(args: str) -> str:
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    return words[-1].rstrip("/") if words else ""


def match_layer(created_by: str | None, instructions: list[Instruction]) -> Instruction | None:
    """The instruction (of the last stage, the one the image is made of) that made the layer."""
    if not created_by or not instructions:
        return None
    keyword, args = _split(created_by)
    if keyword not in LAYER_KEYWORDS:
        return None
    last = max(ins.stage for ins in instructions)
    candidates = [ins for ins in instructions if ins.stage == last and ins.keyword == keyword]
    wanted = _FLAGS.sub("", args)
    for norm in (lambda t: t, lambda t: _COMMENT.sub("", t)):
        hits = [ins for ins in candidates if norm(_FLAGS.sub("", ins.args)) == norm(wanted)]
        if hits:
            return hits[0]
    if keyword in ("COPY", "ADD"):
        # legacy history: "COPY file:<sha> in /app" or "COPY dir:<sha> in /app/"
        dest = wanted.rpartition(" in ")[2].rstrip("/") if " in " in wanted else _destination(wanted)
        same = [ins for ins in candidates if _destination(_FLAGS.sub("", ins.args)) == dest]
        if len(same) == 1:
            return same[0]
    return None


def user_line(instructions: list[Instruction]) -> Instruction | None:
    """The last USER of the final stage (where a runs-as-root fix goes), else its FROM."""
    if not instructions:
        return None
    last = max(ins.stage for ins in instructions)
    final = [ins for ins in instructions if ins.stage == last]
    users = [ins for ins in final if ins.keyword == "USER"]
    froms = [ins for ins in final if ins.keyword == "FROM"]
    return (users or froms or final)[-1]

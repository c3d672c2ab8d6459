"""inventory/requirement_files.py: requirement and lock file syntax into Wanted records."""

from __future__ import annotations

from sitelens.inventory.requirement_files import parse_lock, parse_requirements_txt


def test_requirement_parsers() -> None:
    txt = (
        "# app\nJinja2==3.1.4 \\\n    --hash=sha256:abc\n-r base.txt\n-e .\n"
        "flask>=3; python_version >= '3.8'\nhttps://example.com/x.whl\n"
    )
    got = parse_requirements_txt(txt, "/app/requirements.txt", include={"/app/base.txt": "six<2\n"})
    assert [(w.name, str(w.spec)) for w in got] == [("jinja2", "==3.1.4"), ("six", "<2"), ("flask", ">=3")]
    uv = (
        'version = 1\n[[package]]\nname = "app"\nversion = "0.1"\nsource = { editable = "." }\n'
        '[[package]]\nname = "Jinja2"\nversion = "3.1.4"\n'
    )
    assert [(w.name, str(w.spec), w.must_exist) for w in parse_lock(uv, "/app/uv.lock")] == [
        ("jinja2", "==3.1.4", False)
    ]
    pipfile = '{"default": {"jinja2": {"version": "==3.1.4"}}, "develop": {"pytest": {"version": "==8"}}}'
    assert [w.name for w in parse_lock(pipfile, "/app/Pipfile.lock")] == ["jinja2"]


def test_a_named_pylock_is_a_lock_file() -> None:
    """PEP 751 allows ``pylock.<name>.toml``; the index captures it, so the inventory parses it."""
    from sitelens.inventory.requirement_files import parse_requirement_file
    from sitelens.layers.capture import capture_limit

    lock = 'lock-version = "1.0"\n[[packages]]\nname = "Jinja2"\nversion = "3.1.4"\n'
    got = parse_requirement_file("/app/pylock.dev.toml", lock, {})
    assert [(w.name, str(w.spec), w.must_exist) for w in got] == [("jinja2", "==3.1.4", False)]
    assert capture_limit("/app/pylock.dev.toml") > 0
    # a constraints file pins nothing into existence
    got = parse_requirement_file("/app/constraints.txt", "six<2\n", {})
    assert [(w.name, w.must_exist) for w in got] == [("six", False)]

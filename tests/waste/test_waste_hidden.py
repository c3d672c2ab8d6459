"""sitelens's own figures from the filesystem history: every hidden copy, classified by cause."""

from __future__ import annotations

from waste_specs import CHOWN, DELETE_FILE, OPAQUE, OVERWRITE, PYTHON_APP, RM_RF_DIR, base_layer, blob
from waste_support import report_for

from fixtures.imagebuilder import Dir, File, Hardlink, ImageSpec, LayerSpec, Whiteout


def _offender(report, root):
    return next(o for o in report.hidden.offenders if o.root == root)


def test_overwrite_counts_hidden_copies_not_the_kept_one() -> None:
    r = report_for(OVERWRITE)
    # big.bin: 300k (L0) and 100k (L1) hidden, 200k (L2) kept; same.txt: 5k (L0) re-shipped
    assert r.wasted_bytes == 405_000
    assert r.hidden.by_cause == {"overwritten": 400_000, "reshipped": 5000}
    l1, l2 = r.hidden.layers[1], r.hidden.layers[2]
    assert l1.hidden_from_below == 305_000 and l1.files_modified == 1 and l1.files_unchanged == 1
    assert l1.reshipped_bytes == 105_000 and l1.hidden_above == 100_000
    assert l2.hidden_from_below == 100_000
    assert r.hidden.layers[0].hidden_above == 305_000
    assert r.total_bytes == sum(lw.content_bytes for lw in r.hidden.layers)
    assert r.efficiency == 1 - 405_000 / r.total_bytes
    doc = r.to_json()
    assert doc["wasted_bytes"] == 405_000 and doc["by_layer"][1]["files"]["modified"] == 1


def test_deleted_file() -> None:
    r = report_for(DELETE_FILE)
    assert r.wasted_bytes == 250_000
    o = _offender(r, "/tmp/setup.tar")
    assert (o.cause, o.hidden_by, o.layers) == ("deleted", 1, {0})
    assert r.hidden.layers[1].files_deleted == 1


def test_rm_rf_dir_counts_every_file_under_it() -> None:
    r = report_for(RM_RF_DIR)
    assert r.wasted_bytes == 600_000
    o = _offender(r, "/build")
    assert (o.cause, o.files, o.bytes, o.hidden_by) == ("deleted-with-dir", 3, 600_000, 2)
    lw = r.hidden.layers[2]
    assert lw.files_deleted == 3 and lw.dirs_deleted == 3  # /build, /build/src, /build/out
    assert r.hidden.by_top_dir == {"/build": 600_000}


def test_opaque_dir_hides_lower_content() -> None:
    r = report_for(OPAQUE)
    # old.py (90k) and the lower keep.py (30k) are hidden by the opaque /opt/app
    assert r.wasted_bytes == 120_000
    o = _offender(r, "/opt/app")
    assert (o.cause, o.files, o.bytes) == ("opaque", 2, 120_000)


def test_chown_copy_is_metadata_not_content() -> None:
    r = report_for(CHOWN)
    assert r.wasted_bytes == 640_000
    assert r.metadata_bytes == 640_000
    assert r.to_json()["content_change_bytes"] == 0
    o = _offender(r, "/srv/venv")  # the chowned directory, not each file
    assert (o.cause, o.files) == ("metadata", 2)
    lw = r.hidden.layers[2]
    assert lw.files_metadata == 2 and lw.metadata_bytes == 640_000 and lw.files_modified == 0


def test_deleted_then_recreated_counts_only_the_first_copy() -> None:
    spec = ImageSpec([
        base_layer([File("/x", blob(1000, "1"))]),
        LayerSpec([Whiteout("/x")], "RUN rm /x"),
        LayerSpec([File("/x", blob(700, "2"))], "COPY x /x"),
    ])
    r = report_for(spec)
    assert r.wasted_bytes == 1000
    assert [c.cause for c in r.hidden.copies] == ["deleted"]


def test_hardlinks_are_not_counted_twice() -> None:
    spec = ImageSpec([
        base_layer([Dir("/d"), File("/d/a", blob(5000, "a")), Hardlink("/d/b", "/d/a")]),
        LayerSpec([Whiteout("/d")], "RUN rm -rf /d"),
    ])
    r = report_for(spec)
    assert r.wasted_bytes == 5000


def test_python_app_breakdown() -> None:
    r = report_for(PYTHON_APP)
    causes = r.hidden.by_cause
    assert causes["deleted-with-dir"] == 520_000  # apt lists
    assert causes["metadata"] == 10_000  # chmod -R g=u /app
    assert causes["overwritten"] == 20_000  # dpkg status rewritten
    roots = {o.root: o for o in r.hidden.offenders}
    assert roots["/var/lib/apt/lists"].cause == "deleted-with-dir"
    assert roots["/app"].cause == "metadata"
    assert r.hidden.offenders[0].root == "/var/lib/apt/lists"  # largest first
    assert list(r.hidden.by_top_dir) == ["/var", "/app"]


def test_dive_model_survives_paths_deeper_than_the_python_stack() -> None:
    from sitelens.layers.index import Entry, LayerIndex
    from sitelens.waste.dive import dive_figures

    deep = "/" + "/".join(["d"] * 3000)
    lower = LayerIndex("sha256:0", [Entry(deep + "/f", "file", size=10)])
    upper = LayerIndex("sha256:1", [Entry(deep + "/f", "file", size=7), Entry("/d", "whiteout")])
    figures = dive_figures([lower, upper])
    assert figures.inefficient_bytes == 17
    assert figures.layer_sizes == [10, 7]


def test_bytes_still_shown_by_a_hard_link_are_not_waste() -> None:
    spec = ImageSpec([
        base_layer([Dir("/d"), File("/d/a", blob(5000, "a")), Hardlink("/d/b", "/d/a")]),
        LayerSpec([Dir("/d"), Whiteout("/d/a")], "RUN rm /d/a"),
    ])
    r = report_for(spec)
    assert r.wasted_bytes == 0  # /d/b still shows the bytes the tar carried once
    assert r.hidden.layers[1].files_deleted == 1

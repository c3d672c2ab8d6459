"""decompress.InflationGuard: the one bomb guard of layers (running ratio) and archives (fixed size)."""

from __future__ import annotations

import io

import pytest

from sitelens.decompress import InflationGuard
from sitelens.errors import CorruptImage


def _drain(guard: InflationGuard) -> int:
    while guard.read(1000):
        pass
    return guard.count


def test_past_the_floor_and_the_ratio_is_a_bomb() -> None:
    guard = InflationGuard(io.BytesIO(bytes(10_000)), lambda: 10, "layer 1", ratio=100, floor=2000)
    with pytest.raises(CorruptImage, match=r"layer 1: inflates more than 100x .*decompression bomb"):
        _drain(guard)
    assert guard.count == 3000  # refused at the first read past both bounds (reads of 1000)


def test_under_either_bound_reads_everything() -> None:
    # under the ratio: 10 000 bytes from 200 compressed at 100x
    assert _drain(InflationGuard(io.BytesIO(bytes(10_000)), lambda: 200, "a", ratio=100, floor=0)) == 10_000
    # under the floor: a tiny, sparse image still opens whatever its ratio
    assert _drain(InflationGuard(io.BytesIO(bytes(10_000)), lambda: 1, "a", ratio=100, floor=20_000)) == 10_000


def test_the_compressed_count_is_read_as_it_grows() -> None:
    packed = [0]

    def compressed() -> int:
        packed[0] += 10  # 10 compressed bytes per 1000 inflated: 100x, right at the ratio
        return packed[0]

    assert _drain(InflationGuard(io.BytesIO(bytes(10_000)), compressed, "a", ratio=100, floor=0)) == 10_000

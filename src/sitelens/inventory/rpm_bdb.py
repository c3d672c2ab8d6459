"""Header blobs from rpm's Berkeley DB hash database (``/var/lib/rpm/Packages``, RHEL ≤ 8).

A pure reader of the on-disk format (Berkeley DB's ``dbinc/db_page.h``), not a library binding:

* page 0 is the hash metadata page: magic ``0x061561`` (its byte order tells the file's), page
  size at offset 20, the last page number at offset 32;
* hash pages (type 13, or 2 in old unsorted databases) hold a 26-byte page header, then an array
  of 2-byte item offsets, key and value items alternating; an item's bytes run from its offset to
  the previous item's offset (item 0 to the page end);
* an item's first byte is its type: 1 = data on the page, 3 = off-page (``pgno`` and total
  length at offsets 4 and 8), so a large header lives on a chain of overflow pages (type 7), each
  holding ``hf_offset`` bytes after its header and linking to the next by ``next_pgno``.

rpm keys every header by its 4-byte instance number (host order); key 0 is rpm's bookkeeping
record, not a package. Bad pages are skipped with a warning; reading never trusts a length.
"""

from __future__ import annotations

import struct

HASH_MAGIC = 0x061561
P_HASH_UNSORTED, P_OVERFLOW, P_HASH = 2, 7, 13
H_KEYDATA, H_DUPLICATE, H_OFFPAGE, H_OFFDUP = 1, 2, 3, 4
PAGE_HEADER = 26
VALID_PAGE_SIZES = {512 << i for i in range(8)}  # 512 .. 65536


def _meta(data: bytes) -> tuple[str, int, int]:
    """(byte order, page size, last page number) from the metadata page."""
    if len(data) < 512:
        raise ValueError(f"{len(data)} bytes is too short for a Berkeley DB file")
    for order in ("<", ">"):
        (magic,) = struct.unpack_from(order + "I", data, 12)
        if magic == HASH_MAGIC:
            (pagesize,) = struct.unpack_from(order + "I", data, 20)
            (last,) = struct.unpack_from(order + "I", data, 32)
            if pagesize not in VALID_PAGE_SIZES:
                raise ValueError(f"implausible page size {pagesize}")
            return order, pagesize, last
    raise ValueError("not a Berkeley DB hash database (bad magic)")


class _Reader:
    def __init__(self, data: bytes, order: str, pagesize: int, last: int, warn: list[str]):
        self.data, self.order, self.pagesize, self.warn = data, order, pagesize, warn
        self.npages = min(last + 1, len(data) // pagesize)
        if last + 1 > self.npages:
            warn.append(f"database truncated: {len(data)} bytes hold {self.npages} of {last + 1} pages")

    def page(self, pgno: int) -> bytes | None:
        if pgno >= self.npages:
            return None
        return self.data[pgno * self.pagesize : (pgno + 1) * self.pagesize]

    def header(self, page: bytes) -> tuple[int, int, int, int]:
        """(next_pgno, entries, hf_offset, type)."""
        next_pgno, entries, hf_offset = struct.unpack_from(self.order + "IHH", page, 16)
        return next_pgno, entries, hf_offset, page[25]

    def overflow(self, pgno: int, total: int) -> bytes | None:
        """A value stored on a chain of overflow pages, or None when the chain is broken."""
        chunks: list[bytes] = []
        got = 0
        seen: set[int] = set()
        while pgno and got < total:
            page = self.page(pgno)
            if page is None or pgno in seen:
                self.warn.append(f"overflow chain broken at page {pgno} ({got} of {total} bytes)")
                return None
            seen.add(pgno)
            next_pgno, _, length, ptype = self.header(page)
            if ptype != P_OVERFLOW or length > self.pagesize - PAGE_HEADER:
                self.warn.append(f"page {pgno} is not a valid overflow page")
                return None
            chunks.append(page[PAGE_HEADER : PAGE_HEADER + length])
            got += length
            pgno = next_pgno
        if got != total:
            self.warn.append(f"overflow chain holds {got} bytes, the item says {total}")
            return None
        return b"".join(chunks)

    def item(self, page: bytes, pgno: int, offsets: list[int], i: int) -> bytes | None:
        start = offsets[i]
        end = offsets[i - 1] if i > 0 else self.pagesize
        if not PAGE_HEADER <= start < end <= self.pagesize:
            self.warn.append(f"page {pgno}: item {i} has a bad offset {start}")
            return None
        kind = page[start]
        if kind == H_KEYDATA:
            return page[start + 1 : end]
        if kind == H_OFFPAGE:
            if end - start < 12:
                self.warn.append(f"page {pgno}: off-page item {i} is truncated")
                return None
            ovpg, total = struct.unpack_from(self.order + "II", page, start + 4)
            return self.overflow(ovpg, total)
        self.warn.append(f"page {pgno}: item {i} has unsupported type {kind}")
        return None

    def items(self) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        for pgno in range(1, self.npages):
            page = self.page(pgno)
            if page is None:
                break
            _, entries, _, ptype = self.header(page)
            if ptype not in (P_HASH, P_HASH_UNSORTED) or entries == 0:
                continue
            if entries % 2 or PAGE_HEADER + 2 * entries > self.pagesize:
                self.warn.append(f"page {pgno}: implausible item count {entries}")
                continue
            offsets = list(struct.unpack_from(f"{self.order}{entries}H", page, PAGE_HEADER))
            for i in range(0, entries, 2):
                key = self.item(page, pgno, offsets, i)
                value = self.item(page, pgno, offsets, i + 1)
                if key is not None and value is not None:
                    out.append((key, value))
        return out


def parse_bdb(data: bytes, warnings: list[str] | None = None) -> list[tuple[int, bytes]]:
    """(instance number, header blob) for every package record; problems go to ``warnings``."""
    warn = warnings if warnings is not None else []
    try:
        order, pagesize, last = _meta(data)
    except (ValueError, struct.error) as exc:
        warn.append(str(exc))
        return []
    reader = _Reader(data, order, pagesize, last, warn)
    out: list[tuple[int, bytes]] = []
    for key, value in reader.items():
        if len(key) != 4:
            warn.append(f"record with a {len(key)}-byte key skipped")
            continue
        (instance,) = struct.unpack(order + "I", key)
        if instance == 0:
            continue  # rpm's next-instance counter
        out.append((instance, value))
    out.sort()
    return out

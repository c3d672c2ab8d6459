"""Header blobs from rpm's NDB database (``Packages.db``, SUSE/openSUSE, rpm's ``ndb`` backend).

Format (rpm's ``lib/backend/ndb/rpmpkg.c``), all integers little-endian:

* a 32-byte file header: magic ``RpmP``, version 0, generation, the number of 4 KiB slot pages;
* the slot pages (the header takes the first two 16-byte slots of page 0): each slot is magic
  ``Slot``, package index (0: free), block offset and block count, in 16-byte blocks;
* at ``block offset * 16`` a blob: 16-byte head (magic ``BlbS``, package index, checksum, blob
  length), the header blob itself, then a short tail (checksum, length, magic ``BlbE``).

A slot or blob that does not check out is skipped with a warning.
"""

from __future__ import annotations

import struct

HEADER_MAGIC = b"RpmP"
SLOT_MAGIC = b"Slot"
BLOB_MAGIC = b"BlbS"
SLOT_PAGE = 4096
BLOCK = 16
MAX_SLOT_PAGES = 2048  # rpm itself refuses more


def parse_ndb(data: bytes, warnings: list[str] | None = None) -> list[tuple[int, bytes]]:
    """(package index, header blob) for every used slot; problems go to ``warnings``."""
    warn = warnings if warnings is not None else []
    if len(data) < 32 or data[:4] != HEADER_MAGIC:
        warn.append("not an rpm NDB database (bad magic)")
        return []
    version, _generation, npages = struct.unpack_from("<III", data, 4)
    if version != 0 or not 0 < npages <= MAX_SLOT_PAGES:
        warn.append(f"unsupported NDB header: version {version}, {npages} slot pages")
        return []
    slots_end = npages * SLOT_PAGE
    if slots_end > len(data):
        warn.append(f"database truncated inside the slot pages ({len(data)} bytes)")
        slots_end = len(data) - len(data) % BLOCK
    out: list[tuple[int, bytes]] = []
    for off in range(32, slots_end, BLOCK):
        magic = data[off : off + 4]
        pkgidx, blkoff, blkcnt = struct.unpack_from("<III", data, off + 4)
        if magic != SLOT_MAGIC:
            warn.append(f"bad slot magic at offset {off}; slot pages skipped from there")
            break
        if pkgidx == 0:
            continue
        start = blkoff * BLOCK
        if blkoff == 0 or start + BLOCK > len(data):
            warn.append(f"package {pkgidx}: blob at block {blkoff} lies outside the file")
            continue
        bmagic = data[start : start + 4]
        bidx, _cksum, bloblen = struct.unpack_from("<III", data, start + 4)
        if bmagic != BLOB_MAGIC or bidx != pkgidx:
            warn.append(f"package {pkgidx}: no valid blob at block {blkoff}")
            continue
        if BLOCK + bloblen > blkcnt * BLOCK or start + BLOCK + bloblen > len(data):
            warn.append(f"package {pkgidx}: blob length {bloblen} exceeds its blocks or the file")
            continue
        out.append((pkgidx, data[start + BLOCK : start + BLOCK + bloblen]))
    out.sort()
    return out

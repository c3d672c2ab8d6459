"""Image sources: every transport yields the same :class:`~sitelens.image.Image`.

``open_image`` parses a reference (DESIGN §2) and dispatches to one module per transport.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from ..image import Image
from .base import SourceOptions


def open_image(ref: str, opts: SourceOptions) -> AbstractContextManager[Image]:
    from .dispatch import open_reference

    return open_reference(ref, opts)


__all__ = ["SourceOptions", "open_image"]

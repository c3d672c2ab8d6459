"""Errors that end a run, each with the exit code DESIGN §4 documents.

Every error the CLI can meet is one of these; the CLI prints ``str(err)`` as one line on stderr
and exits with ``err.exit_code``. Nothing else is allowed to reach the user as a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_IMAGE = 3


class SitelensError(Exception):
    exit_code = EXIT_USAGE


class UsageError(SitelensError):
    """Bad arguments or configuration (exit 2)."""

    exit_code = EXIT_USAGE


class ImageError(SitelensError):
    """The image could not be obtained or read (exit 3)."""

    exit_code = EXIT_IMAGE


class ImageNotFound(ImageError):
    pass


class AuthError(ImageError):
    pass


class RegistryUnreachable(ImageError):
    pass


class CorruptImage(ImageError):
    """Truncated or corrupt data, digest mismatch, hostile entries we refuse to process."""

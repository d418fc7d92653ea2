"""Errors of private task packs: each says what went wrong and what to do about it."""

from __future__ import annotations

from prereview.core.errors import Conflict, InvalidInput, NotFound


class PackNotFound(NotFound):
    """No pack by that id or name, or one the caller may not know of (the same answer)."""

    slug = "eval-pack-not-found"


class PackExists(Conflict):
    slug = "eval-pack-exists"


class PackEmpty(InvalidInput):
    slug = "eval-pack-empty"


class PackTooLarge(InvalidInput):
    slug = "eval-pack-too-large"
    status = 413


class PackInvalid(InvalidInput):
    """A file that is not a task pack of the accepted layout (a tar.gz with ``pack.toml``)."""

    slug = "eval-pack-invalid"


class PackShareInvalid(InvalidInput):
    slug = "eval-pack-share-invalid"


class PackShareNotFound(NotFound):
    slug = "eval-pack-share-not-found"


class PackAmbiguous(Conflict):
    slug = "eval-pack-ambiguous"


class PackTampered(InvalidInput):
    """Pack bytes whose SHA-256 is not the one the server recorded: never run."""

    slug = "eval-pack-tampered"


class PackMismatch(InvalidInput):
    """A log that names a pack the server does not know as named, or may not be used by you."""

    slug = "eval-pack-mismatch"

"""For the witness tests: a small in-memory log that signs checkpoints with its own key."""

from __future__ import annotations

from prereview.audit import merkle
from prereview.audit.checkpoint import NoteSigner, sign_checkpoint

ORIGIN = "log.example/audit"


class MemoryLog:
    """A log kept in memory: leaves, every node, and checkpoints signed with its key."""

    def __init__(self, signer: NoteSigner, origin: str = ORIGIN) -> None:
        self.signer = signer
        self.origin = origin
        self.store = merkle.MemoryNodeStore()
        self.tree = merkle.TreeAppender()

    def grow(self, count: int, tag: str = "entry") -> MemoryLog:
        for _ in range(count):
            leaf = merkle.leaf_hash(f"{tag} {self.tree.size}".encode())
            self.store.put(self.tree.append(leaf))
        return self

    @property
    def size(self) -> int:
        return self.tree.size

    def root(self, size: int | None = None) -> bytes:
        return merkle.root(self.size if size is None else size, self.store)

    def checkpoint(self, size: int | None = None) -> str:
        size = self.size if size is None else size
        return sign_checkpoint(self.origin, size, self.root(size), self.signer)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = self.size if new is None else new
        return merkle.consistency_proof(old, new, self.store) if old else []

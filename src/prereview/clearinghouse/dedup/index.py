"""The duplicate finder of a running clearinghouse, rebuilt from the database.

The finder is an in-memory index (see :mod:`prereview.clearinghouse.dedup.finder`). Each
process keeps one per database and brings it up to date before each intake by indexing the
stored reports it has not seen (those with a higher ``seq``), so a restarted process, or one of
several replicas, proposes duplicates among every report stored, without persisting the
sketches.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from prereview.clearinghouse.dedup.evidence import evidence_of_document
from prereview.clearinghouse.dedup.finder import DuplicateFinder
from prereview.clearinghouse.models import VulnReport

_CATCH_UP_BATCH = 5000


@dataclass
class DuplicateIndex:
    """A finder and the highest report ``seq`` it has indexed."""

    finder: DuplicateFinder = field(default_factory=DuplicateFinder)
    high_water: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def catch_up(self, db: Session) -> int:
        """Index the stored reports newer than the high-water mark; return how many."""
        added = 0
        while True:
            rows = db.execute(
                select(
                    VulnReport.seq,
                    VulnReport.id,
                    VulnReport.title,
                    VulnReport.document,
                    VulnReport.package_keys,
                    VulnReport.cwes,
                )
                .where(VulnReport.seq > self.high_water)
                .order_by(VulnReport.seq)
                .limit(_CATCH_UP_BATCH)
            ).all()
            if not rows:
                return added
            for seq, report_id, title, document, packages, cwes in rows:
                self.high_water = max(self.high_water, seq)
                if report_id in self.finder:
                    continue  # indexed at intake by this process already
                self.finder.add(
                    report_id,
                    f"{title}\n{document.get('description', '')}",
                    packages,
                    cwes,
                    document.get("code_locations", []),
                    evidence_of_document(document),
                )
                added += 1


_INDEXES: weakref.WeakKeyDictionary[Engine, DuplicateIndex] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def index_for(db: Session) -> DuplicateIndex:
    """This process's duplicate index for the session's database."""
    bind = db.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _GUARD:
        index = _INDEXES.get(engine)
        if index is None:
            index = DuplicateIndex()
            _INDEXES[engine] = index
        return index

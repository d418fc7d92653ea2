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
# Ids per query (well under SQLite's limit of bound parameters).
_LOOKUP_CHUNK = 500


@dataclass
class DuplicateIndex:
    """A finder and the highest report ``seq`` it has indexed."""

    finder: DuplicateFinder = field(default_factory=DuplicateFinder)
    high_water: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def catch_up(self, db: Session) -> int:
        """Index the stored reports newer than the high-water mark; return how many.

        Only the ``seq`` and id of the newer rows are read first: after an intake by this
        process they are its own reports, indexed already, and reading their documents back
        (a JSON decode each) cost more than the rest of the catch-up. Documents are read only
        for the reports the finder has not seen (another process's, or at start-up)."""
        added = 0
        while True:
            rows = db.execute(
                select(VulnReport.seq, VulnReport.id)
                .where(VulnReport.seq > self.high_water)
                .order_by(VulnReport.seq)
                .limit(_CATCH_UP_BATCH)
            ).all()
            if not rows:
                return added
            unseen = [report_id for _, report_id in rows if report_id not in self.finder]
            for start in range(0, len(unseen), _LOOKUP_CHUNK):
                found = db.execute(
                    select(
                        VulnReport.id,
                        VulnReport.title,
                        VulnReport.document,
                        VulnReport.package_keys,
                        VulnReport.cwes,
                    )
                    .where(VulnReport.id.in_(unseen[start : start + _LOOKUP_CHUNK]))
                    .order_by(VulnReport.seq)
                ).all()
                for report_id, title, document, packages, cwes in found:
                    self.finder.add(
                        report_id,
                        f"{title}\n{document.get('description', '')}",
                        packages,
                        cwes,
                        document.get("code_locations", []),
                        evidence_of_document(document),
                    )
                    added += 1
            self.high_water = max(self.high_water, max(seq for seq, _ in rows))


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

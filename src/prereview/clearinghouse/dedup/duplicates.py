"""Relations between vulnerability ids (backed by a table) and the analyst's merge decisions.

Relations are stored as stated edges; a query loads the connected part of the graph around
the ids it asks about into :class:`~prereview.clearinghouse.dedup.aliases.VulnerabilityRelations`,
whose union-find keeps alias groups right at any size. Merges are kept apart from aliases
(a merge can be undone; an alias, once stated by a reporter, is a fact): a merged report points
at the one it was merged into, and ``reopen`` undoes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.dedup.aliases import AliasStatements, VulnerabilityRelations
from prereview.clearinghouse.models import DuplicateCandidateRow, VulnRelation, VulnReport
from prereview.clearinghouse.sharing.need_to_know import visible_reports
from prereview.core.pagination import PageRequest, Slice, paginate

RelationKind = Literal["alias", "upstream", "related"]
Decision = Literal["merge", "reject", "reopen"]
_CHUNK = 500
# Up to this many stored relations, a query loads them all (one round trip, any diameter).
_LOAD_ALL = 200_000


def load_relations(db: Session, start: Iterable[str]) -> VulnerabilityRelations:
    """The relations of the connected component around ``start``.

    While the table is small, all of it in one query; beyond, a breadth-first walk from
    ``start``, one query per level, so memory stays with the component.
    """
    seen = set(start)
    frontier = list(seen)
    edges: dict[int, tuple[str, str, str]] = {}
    total = db.scalar(select(func.count()).select_from(VulnRelation)) or 0
    if total <= _LOAD_ALL:
        rows = db.execute(
            select(VulnRelation.id, VulnRelation.kind, VulnRelation.source, VulnRelation.target)
        )
        edges = {row_id: (kind, source, target) for row_id, kind, source, target in rows}
        frontier = []
    while frontier:
        following: list[str] = []
        for offset in range(0, len(frontier), _CHUNK):
            chunk = frontier[offset : offset + _CHUNK]
            rows = db.execute(
                select(
                    VulnRelation.id, VulnRelation.kind, VulnRelation.source, VulnRelation.target
                ).where(or_(VulnRelation.source.in_(chunk), VulnRelation.target.in_(chunk)))
            )
            for row_id, kind, source, target in rows:
                edges[row_id] = (kind, source, target)
                for name in (source, target):
                    if name not in seen:
                        seen.add(name)
                        following.append(name)
        frontier = following
    relations = VulnerabilityRelations()
    ordered = [edges[key] for key in sorted(edges)]
    # Aliases first: upstream and related links hold between vulnerabilities, not names.
    for kind, source, target in ordered:
        if kind == "alias":
            relations.add_aliases(source, [target])
    for kind, source, target in ordered:
        try:
            if kind == "upstream":
                relations.add_upstream(source, target)
            elif kind == "related":
                relations.add_related(source, target)
        except errors.RelationConflict:
            continue  # an imported statement contradicting earlier ones is not followed
    return relations


def alias_group(db: Session, name: str) -> frozenset[str]:
    """The alias group of a name by the records' own statements (:class:`AliasStatements`):
    two queries, the statements naming ``name`` and then everything those statements name."""
    alias = VulnRelation.kind == "alias"
    sources = select(VulnRelation.source).where(
        alias, or_(VulnRelation.source == name, VulnRelation.target == name)
    )
    statements = AliasStatements()
    rows = db.execute(
        select(VulnRelation.source, VulnRelation.target).where(
            alias, VulnRelation.source.in_(sources)
        )
    )
    for source, target in rows:
        statements.state(source, [target])
    return statements.group(name)


def relations_of(db: Session, report_id: str) -> dict[str, list[str]]:
    """The aliases (by :func:`alias_group`), upstream, downstream and related ids of a
    vulnerability id."""
    relations = load_relations(db, [report_id])
    return {
        "aliases": sorted(alias_group(db, report_id) - {report_id}),
        "upstream": sorted(relations.upstream_of(report_id)),
        "downstream": sorted(relations.downstream_of(report_id)),
        "related": sorted(relations.related_to(report_id)),
    }


@use_case(Permission.CH_RELATION_CREATE)
def add_relation(
    db: Session, actor: Actor, kind: RelationKind, source: str, target: str, now: datetime
) -> dict[str, list[str]]:
    """State a relation; refuse one that contradicts the known ones (``RelationConflict``)."""
    authorize(actor, Permission.CH_RELATION_CREATE)
    if source == target:
        raise errors.RelationConflict("a vulnerability id cannot be related to itself")
    relations = load_relations(db, [source, target])
    if kind == "alias":
        relations.add_aliases(source, [target])
    elif kind == "upstream":
        relations.add_upstream(source, target)
    else:
        relations.add_related(source, target)
    exists = db.scalar(
        select(VulnRelation.id).where(
            VulnRelation.kind == kind, VulnRelation.source == source, VulnRelation.target == target
        )
    )
    if exists is None:
        db.add(VulnRelation(kind=kind, source=source, target=target, created_at=now))
        audit.record(
            db,
            actor=actor,
            action=Permission.CH_RELATION_CREATE,
            object_type="vulnerability_relation",
            object_id=source,
            at=now,
            detail={"kind": kind, "source": source, "target": target},
        )
    db.commit()
    return relations_of(db, source)


@use_case(Permission.CH_DUPLICATE_LIST)
def list_duplicates(
    db: Session, actor: Actor, page: PageRequest, now: datetime, status: str | None = None
) -> Slice[DuplicateCandidateRow]:
    """Proposed likely duplicates (and decided ones), most similar first; only pairs of
    reports the actor may read (a TLP:RED report it was not named on is not even hinted at)."""
    authorize(actor, Permission.CH_DUPLICATE_LIST)
    readable = select(VulnReport.id).where(visible_reports(actor, now))
    query = select(DuplicateCandidateRow).where(
        DuplicateCandidateRow.report_id.in_(readable),
        DuplicateCandidateRow.candidate_id.in_(readable),
    )
    if status is not None:
        query = query.where(DuplicateCandidateRow.status == status)
    query = query.order_by(
        DuplicateCandidateRow.similarity.desc(), DuplicateCandidateRow.created_at
    )
    return paginate(db, query, page)


def _report(db: Session, report_id: str) -> VulnReport:
    report = db.scalar(select(VulnReport).where(VulnReport.id == report_id))
    if report is None:
        raise errors.ReportNotFound(f"no vulnerability report '{report_id}'")
    return report


def _root(db: Session, report: VulnReport) -> VulnReport:
    """The report a chain of merges ends at."""
    seen = {report.id}
    while report.merged_into is not None and report.merged_into not in seen:
        seen.add(report.merged_into)
        report = _report(db, report.merged_into)
    return report


@use_case(Permission.CH_DUPLICATE_DECIDE)
def decide_duplicate(
    db: Session, actor: Actor, duplicate_id: str, decision: Decision, note: str, now: datetime
) -> DuplicateCandidateRow:
    """Merge the newer report into the older, reject the proposal, or reopen it (undoing a
    merge). Every decision is audited with the state it replaced."""
    authorize(actor, Permission.CH_DUPLICATE_DECIDE)
    row = db.get(DuplicateCandidateRow, duplicate_id)
    if row is None:
        raise errors.DuplicateNotFound(f"no duplicate proposal '{duplicate_id}'")
    previous = row.status
    duplicate = _report(db, row.report_id)
    if decision == "merge":
        if previous == "merged":
            raise errors.InvalidDecision("this pair is merged already")
        into = _root(db, _report(db, row.candidate_id))
        if into.id == duplicate.id:
            raise errors.InvalidDecision("merging these would make a cycle of merges")
        duplicate.merged_into = into.id
        row.status = "merged"
    elif decision == "reject":
        if previous == "merged":
            raise errors.InvalidDecision("the pair is merged: reopen it before rejecting")
        row.status = "rejected"
    else:
        if previous == "proposed":
            raise errors.InvalidDecision("the proposal is open already")
        if previous == "merged":
            duplicate.merged_into = None
        row.status = "proposed"
    row.decided_by = actor.user_id
    row.decided_at = now
    commit_audited(
        db,
        actor,
        Permission.CH_DUPLICATE_DECIDE,
        object_type="duplicate_proposal",
        object_id=row.id,
        at=now,
        detail={
            "decision": decision,
            "previous_status": previous,
            "report_id": row.report_id,
            "candidate_id": row.candidate_id,
            "merged_into": duplicate.merged_into,
            "note": note,
        },
    )
    return row

"""A case's messages: the thread of all the case's members, and each vendor's private thread.

The case's thread is for its members: the clearinghouse and the vendors on the case (the
policy's ``clearinghouse:case-message:*`` rules). Whoever the case's TLP keeps out learns
nothing of it (the case's 404); those who may read the case but are not members (its reporter,
anyone for a TLP:CLEAR case) are told why not (403).

A vendor's private thread is between the clearinghouse's coordinators and that one vendor, while
it is on the case: the other vendors of a case must not learn that it takes part, so to anyone
else the thread does not exist (404, the same answer whether or not the organisation is on the
case). A vendor taken off the case loses its thread at once; the coordinators keep reading it.

Reading a thread of a TLP:AMBER or stricter case, and reading any private thread, is audited
with the ids of the messages read; every message posted is audited, in its transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import allowed
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.cases import lock_case, reach_case, readable_case
from prereview.clearinghouse.models import Case, CaseMessage
from prereview.clearinghouse.sharing.need_to_know import CONFIDENTIAL_TLP, is_case_vendor
from prereview.core.ids import new_id
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.identity import service as identity

MAX_MESSAGE = 20_000


def _thread_of(
    db: Session,
    actor: Actor,
    case_id: str,
    vendor_org_id: str | None,
    permission: Permission,
    now: datetime,
) -> Case:
    """The case, if ``actor`` may act on the thread (``vendor_org_id``: a private one)."""
    if vendor_org_id is None:
        case, _ = readable_case(db, actor, case_id, permission, now)
        return case
    case, access = reach_case(db, actor, case_id, Permission.CH_CASE_READ)
    on_case = is_case_vendor(db, case.id, vendor_org_id)
    # The private thread's members: the coordinators, and its vendor while it is on the case.
    thread = replace(access, need_to_know=on_case and actor.organisation_id == vendor_org_id)
    hidden = errors.ThreadNotFound(f"no thread of '{vendor_org_id}' in case '{case_id}'")
    if not allowed(actor, permission, thread):
        raise hidden
    if not on_case:
        # The coordinators read a former vendor's thread; there is none of a stranger.
        if permission is Permission.CH_CASE_MESSAGE_CREATE:
            raise errors.NotACaseVendor(
                f"organisation '{vendor_org_id}' is not a vendor of this case"
            )
        held = db.scalar(
            select(CaseMessage.id)
            .where(CaseMessage.case_id == case.id, CaseMessage.vendor_org_id == vendor_org_id)
            .limit(1)
        )
        if held is None:
            raise hidden
    return case


def _in_thread(vendor_org_id: str | None) -> ColumnElement[bool]:
    if vendor_org_id is None:
        return CaseMessage.vendor_org_id.is_(None)
    return CaseMessage.vendor_org_id == vendor_org_id


@use_case(Permission.CH_CASE_MESSAGE_LIST, also=(Permission.CH_CASE_READ,))
def list_messages(
    db: Session,
    actor: Actor,
    case_id: str,
    page: PageRequest,
    now: datetime,
    vendor_org_id: str | None = None,
) -> Slice[CaseMessage]:
    """One page of a thread of the case, oldest first (a conversation reads down): the case's
    own, or ``vendor_org_id``'s private one."""
    case = _thread_of(db, actor, case_id, vendor_org_id, Permission.CH_CASE_MESSAGE_LIST, now)
    found = paginate(
        db,
        select(CaseMessage)
        .where(CaseMessage.case_id == case.id, _in_thread(vendor_org_id))
        .order_by(CaseMessage.created_at, CaseMessage.id),
        page,
    )
    if case.tlp in CONFIDENTIAL_TLP or vendor_org_id is not None:
        audit.record(
            db,
            actor=actor,
            action=Permission.CH_CASE_MESSAGE_LIST,
            object_type="case",
            object_id=case.id,
            at=now,
            detail={
                "tlp": case.tlp,
                "thread": vendor_org_id,
                "messages": [m.id for m in found.rows],
            },
        )
    db.commit()
    return found


@use_case(Permission.CH_CASE_MESSAGE_CREATE, also=(Permission.CH_CASE_READ,))
def post_message(
    db: Session,
    actor: Actor,
    case_id: str,
    text: str,
    now: datetime,
    vendor_org_id: str | None = None,
) -> CaseMessage:
    """Add a message to a thread of the case (``vendor_org_id``: that vendor's private one),
    signed with the author's name and organisation."""
    if vendor_org_id is not None:
        # The thread's vendor must still be on the case when the message is stored: lock the
        # case first (on SQLite, the write lock), as its removal does, so the membership the
        # check below reads stays current until this commits.
        lock_case(db, case_id)
    case = _thread_of(db, actor, case_id, vendor_org_id, Permission.CH_CASE_MESSAGE_CREATE, now)
    body = text.strip()
    if not body or len(body) > MAX_MESSAGE:
        raise errors.InvalidCaseChange(
            "a message needs some text" if not body else "the message is too long",
            errors=[
                {
                    "path": "$.text",
                    "message": f"between 1 and {MAX_MESSAGE} characters, not only white space",
                }
            ],
        )
    message = CaseMessage(
        id=new_id("msg"),
        case_id=case.id,
        author_org_id=actor.organisation_id,
        author_user_id=actor.user_id,
        author_name=identity.get_user(db, actor.user_id).name,
        body=body,
        created_at=now,
        vendor_org_id=vendor_org_id,
    )
    db.add(message)
    commit_audited(
        db,
        actor,
        Permission.CH_CASE_MESSAGE_CREATE,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={"message": message.id, "tlp": case.tlp, "thread": vendor_org_id},
    )
    return message

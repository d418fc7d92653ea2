"""A case's messages: the thread in which the clearinghouse and the case's vendors coordinate.

Only the case's members take part: the clearinghouse and the vendors on the case (the policy's
``clearinghouse:case-message:*`` rules). Whoever the case's TLP keeps out learns nothing of it
(the case's 404); those who may read the case but are not members (its reporter, anyone for a
TLP:CLEAR case) are told why not (403). Reading the thread of a TLP:AMBER or stricter case is
audited like any read of the case; every message posted is audited, in its transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.cases import readable_case
from prereview.clearinghouse.models import CaseMessage
from prereview.clearinghouse.sharing.need_to_know import CONFIDENTIAL_TLP
from prereview.core.ids import new_id
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.identity import service as identity

MAX_MESSAGE = 20_000


@use_case(Permission.CH_CASE_MESSAGE_LIST, also=(Permission.CH_CASE_READ,))
def list_messages(
    db: Session, actor: Actor, case_id: str, page: PageRequest, now: datetime
) -> Slice[CaseMessage]:
    """One page of the case's thread, oldest first (a conversation reads down)."""
    case, _ = readable_case(db, actor, case_id, Permission.CH_CASE_MESSAGE_LIST, now)
    found = paginate(
        db,
        select(CaseMessage)
        .where(CaseMessage.case_id == case.id)
        .order_by(CaseMessage.created_at, CaseMessage.id),
        page,
    )
    if case.tlp in CONFIDENTIAL_TLP:
        audit.record(
            db,
            actor=actor,
            action=Permission.CH_CASE_MESSAGE_LIST,
            object_type="case",
            object_id=case.id,
            at=now,
            detail={"tlp": case.tlp, "messages": [m.id for m in found.rows]},
        )
    db.commit()
    return found


@use_case(Permission.CH_CASE_MESSAGE_CREATE, also=(Permission.CH_CASE_READ,))
def post_message(db: Session, actor: Actor, case_id: str, text: str, now: datetime) -> CaseMessage:
    """Add a message to the case's thread, signed with the author's name and organisation."""
    case, _ = readable_case(db, actor, case_id, Permission.CH_CASE_MESSAGE_CREATE, now)
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
    )
    db.add(message)
    commit_audited(
        db,
        actor,
        Permission.CH_CASE_MESSAGE_CREATE,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={"message": message.id, "tlp": case.tlp},
    )
    return message

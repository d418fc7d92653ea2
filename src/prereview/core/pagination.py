"""Paginated lists: ``?limit=&offset=`` in, ``{items, total, limit, offset}`` out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
Row = TypeVar("Row")

MAX_LIMIT = 200


@dataclass(frozen=True)
class PageRequest:
    limit: int = 50
    offset: int = 0


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")] = 0,
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Slice(Generic[Row]):
    """One page of rows and the total they were cut from."""

    rows: list[Row]
    total: int
    limit: int
    offset: int


def paginate(db: Session, query: Select[Row], page: PageRequest) -> Slice[Row]:
    """Run ``query`` for one page, and count all its rows."""
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(db.scalars(query.limit(page.limit).offset(page.offset)))
    return Slice(rows=rows, total=total, limit=page.limit, offset=page.offset)


def page_of_list(items: Sequence[T], page: PageRequest) -> Page[T]:
    """One page of a list already in memory (a submission's grants, keys, determinations:
    lists bounded by what one submission holds), with the total it was cut from."""
    return Page[T](
        items=list(items[page.offset : page.offset + page.limit]),
        total=len(items),
        limit=page.limit,
        offset=page.offset,
    )


def page_of(found: Slice[Row], convert: Callable[[Row], T]) -> Page[T]:
    """The HTTP page for ``found``, each row converted for the response."""
    return Page[T](
        items=[convert(row) for row in found.rows],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
    )

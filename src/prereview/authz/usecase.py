"""A use case names the permission it exercises, and its route's label is read from it.

``@use_case(Permission.X)`` on a service function records the permission on the function and,
while it runs, confines :func:`~prereview.authz.policy.authorize` to that permission (and the
ones named in ``also``): a use case that checks anything else fails loudly in the test suite,
which exercises every route. A route takes its OpenAPI ``x-permission`` from the function it
calls (:func:`exercises`), so the label and the check are one value and cannot drift apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from prereview.authz.permissions import Permission

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

_DECLARED: ContextVar[frozenset[Permission] | None] = ContextVar("declared", default=None)
_observers: list[Callable[[Permission], None]] = []


class UndeclaredPermission(RuntimeError):
    """A use case checked a permission it does not declare: a programming error, not a 403."""


class UseCase(Protocol[P, R_co]):
    permission: Permission
    also: frozenset[Permission]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...


def use_case(
    permission: Permission, *, also: tuple[Permission, ...] = ()
) -> Callable[[Callable[P, R]], UseCase[P, R]]:
    """Declare that the decorated service function exercises ``permission``.

    ``also`` names the permissions of the other use cases it runs on the way (reading the
    organisation it grants access to, say) when those are checked inline rather than through
    another decorated use case.
    """
    declared = frozenset((permission, *also))

    def mark(function: Callable[P, R]) -> UseCase[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if _DECLARED.get() is None:
                for observer in tuple(_observers):
                    observer(permission)
            token = _DECLARED.set(declared)
            try:
                return function(*args, **kwargs)
            finally:
                _DECLARED.reset(token)

        marked = cast(Any, run)
        marked.permission = permission
        marked.also = frozenset(also)
        return cast(UseCase[P, R], marked)

    return mark


def check_declared(permission: Permission) -> None:
    """Called by ``authorize``: refuse a check the running use case did not declare."""
    declared = _DECLARED.get()
    if declared is not None and permission not in declared:
        names = ", ".join(sorted(declared))
        raise UndeclaredPermission(
            f"a use case declared for {names} checked '{permission}'; declare it with also="
        )


@contextmanager
def outside_use_case() -> Iterator[None]:
    """Run a nested step (a page assembling several reads, say) under no declaration."""
    token = _DECLARED.set(None)
    try:
        yield
    finally:
        _DECLARED.reset(token)


def observe_use_cases(observer: Callable[[Permission], None]) -> Callable[[], None]:
    """Hear the permission of every outermost use case that starts; returns the way to stop.

    For the test that checks each route's label against the use case the route really runs.
    """
    _observers.append(observer)
    return lambda: _observers.remove(observer)


def exercises(case: UseCase[..., Any]) -> dict[str, str]:
    """The ``openapi_extra`` of a route that calls ``case``: its ``x-permission`` label."""
    return {"x-permission": case.permission.value}

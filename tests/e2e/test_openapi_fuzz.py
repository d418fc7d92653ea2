"""Schemathesis walks the OpenAPI document as every kind of caller and every check holds.

Each operation gets generated requests that fit the document (positive), that do not (negative),
and, where it has path parameters, requests aimed at the scenario's real objects (a submission
under review, its grant, nomination, finding, material and eval result; a published report, a
case, a duplicate proposal, a product claim; a gateway key and transcript; a spare user and
token), so the rules behind the 404 are exercised too. On SQLite every request is sent as each
of the platform's eight callers and every answer is validated with all the checks that the
installed schemathesis offers for a single response, bar the few excluded below with their
reason.
Failures are collected rather than raised, so one run reports all of them (and nothing shrinks).

On PostgreSQL the run is narrower (see ``Depth``): its job is what PostgreSQL refuses that SQLite
accepts, which only a request that gets past the policy to a query can meet.
"""

from __future__ import annotations

import copy
import os
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, is_check_class, load_all_checks, not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

from authz.test_authorization_matrix import EXPECTED as API_MATRIX
from authz.test_web_matrix import EXPECTED as WEB_MATRIX
from conftest import START, _empty_postgres
from prereview.api import create_app
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.settings import Settings
from prereview.web import pages as web_pages
from prereview.web.session import COOKIE
from support.factories import Platform
from support.matrix import ACTORS
from support.scenario import Scenario, clearinghouse_ids, gateway_ids, pack_ids, spare_user

Caller = str | None
# The owning developer, another developer, the granted agency, another agency, the consented
# partner, another partner, the clearinghouse, the anonymous caller: the order of the
# authorization matrices' rows (tests/authz), which ``Depth.postgresql`` reads.
CALLERS: tuple[Caller, ...] = tuple(ACTORS.values())

# Per operation and per kind of request, on SQLite; each example is sent as all eight callers.
# 4 takes the API's walk about 3.5 minutes and the pages' 2 on two cores at load 5;
# PREREVIEW_FUZZ_EXAMPLES=15 for a deeper look.
MAX_EXAMPLES = int(os.environ.get("PREREVIEW_FUZZ_EXAMPLES", "4"))
# Each test walks its operations in this many parts (a fixture's scenario serves all the parts
# that run on one worker), so that on few cores no minutes-long test is left running alone
# at the end of the suite.
PARTS = 2


@dataclass(frozen=True)
class Depth:
    """How many examples each operation gets, and as which callers each one is sent."""

    examples: int
    callers: Callable[[str], tuple[Caller, ...]]

    @classmethod
    def sqlite(cls) -> Depth:
        """Every example as every caller: every check must hold for each of them."""
        return cls(MAX_EXAMPLES, lambda _label: CALLERS)

    @classmethod
    def postgresql(cls, matrix: Mapping[str, tuple[int, ...]]) -> Depth:
        """What PostgreSQL refuses that SQLite accepts (NUL in text, a string longer than its
        column, an integer beyond 64 bits) is met in a query. A caller that the policy refuses
        meets only the lookups the policy makes first, and the callers it lets through meet
        those on the same values too: so an example is sent only as the callers that the
        authorization ``matrix`` lets through (the anonymous one where it is answered, not sent
        to sign in by a page's 303; everyone where no one is let through). Two examples per
        strategy, not four: each operation still gets positive, negative and aimed examples,
        any of which may carry what PostgreSQL refuses; PREREVIEW_FUZZ_EXAMPLES deepens both."""

        def callers(label: str) -> tuple[Caller, ...]:
            through = tuple(
                who
                for who, status in zip(CALLERS, matrix[label], strict=True)
                if status < (300 if who is None else 400)
            )
            return through or CALLERS

        return cls(max(1, MAX_EXAMPLES // 2), callers)

    @classmethod
    def of(cls, platform: Platform, matrix: Mapping[str, tuple[int, ...]]) -> Depth:
        """The depth for the platform's database, callers read from ``matrix`` on PostgreSQL."""
        url = platform.context.settings.database_url
        return cls.sqlite() if url.startswith("sqlite") else cls.postgresql(matrix)


load_all_checks()
EXCLUDED_CHECKS = {
    # The document says what is well formed, not what the business rules allow: a valid body
    # for a closed window, a duplicate id or a TLP loosening is refused with a 409 or 422.
    "positive_data_acceptance",
    # Stateful: they read a recorder of earlier cases and responses, which single requests lack.
    "use_after_free",
    "ensure_resource_availability",
    # Needs schemathesis identities config; tests/authz/test_authorization_matrix.py does this
    # for every operation and all eight callers, against a table of expected answers.
    "object_level_authorization",
}
CheckFunction = Callable[..., Any]
CHECK_FUNCTIONS: list[CheckFunction] = [
    check
    for check in CHECKS.get_all()
    if not is_check_class(check) and check.__name__ not in EXCLUDED_CHECKS
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_scenario(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Scenario]:
    """The scenario on SQLite, then on PostgreSQL (which refuses more: NUL in text, say)."""
    root = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, root / "fuzz.db")
        url = f"sqlite:///{root / 'fuzz.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        _empty_postgres(url)
    context = AppContext.create(
        Settings(
            database_url=url,
            master_key_file=root / "master.keys",
            audit_key_file=root / "audit.key",
            blob_dir=root / "blobs",
        ),
        FixedClock(START),
    )
    app = create_app(context=context)
    with TestClient(app, raise_server_exceptions=False) as client:
        platform = Platform.populate(context, client)
        yield Scenario.build(platform)
    context.engine.dispose()


def real_ids(scenario: Scenario) -> dict[str, str]:
    """Every path parameter of the document, naming an object that exists."""
    return (
        scenario.path_params("developer")
        | clearinghouse_ids(scenario)
        | gateway_ids(scenario)
        | pack_ids(scenario)
        | {"user_id": spare_user(scenario)}
    )


class WriteProbe:
    """Whether anything was committed to the scenario's SQLite database since the last look.

    ``PRAGMA data_version`` on a connection of our own changes whenever another connection
    commits, so one cheap query per request tells whether an answer wrote anything. Bad input
    (any 4xx) must leave nothing written, half or whole."""

    def __init__(self, database_url: str) -> None:
        self.connection = sqlite3.connect(database_url.removeprefix("sqlite:///"))

    @classmethod
    def of(cls, platform: Platform) -> WriteProbe | None:
        url = platform.context.settings.database_url
        return cls(url) if url.startswith("sqlite:///") else None

    def version(self) -> int:
        version: int = self.connection.execute("PRAGMA data_version").fetchone()[0]
        return version


def _negative_at_header(case: Any) -> bool:
    return case.meta is not None and bool(case.meta.is_negative_at(ParameterLocation.HEADER))


def _summary(failure: Failure) -> str:
    first_line = failure.message.strip().splitlines()[0] if failure.message.strip() else ""
    return f"{type(failure).__name__}: {failure.title}: {first_line}"


def fuzz(
    operations: list[Any],
    headers: dict[Caller, dict[str, str]],
    checks: list[CheckFunction],
    ids: dict[str, str],
    depth: Depth,
    probe: WriteProbe | None = None,
) -> tuple[dict[tuple[str, str, str], str], Counter[str]]:
    """Send each operation's examples as the callers ``depth`` names. Returns the checks'
    failures, by operation, caller and kind (the first of each kind, with its request), and how
    many answers of each class (2xx, 3xx...) each operation got. With a ``probe``, a 4xx answer
    after which the database changed is a failure too."""
    failures: dict[tuple[str, str, str], str] = {}
    answered: Counter[str] = Counter()
    for operation in operations:
        names = {parameter.name for parameter in operation.path_parameters}
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        ]
        if names & ids.keys():
            strategies.append(
                operation.as_strategy(
                    GenerationMode.POSITIVE,
                    path_parameters={name: ids[name] for name in names if name in ids},
                )
            )

        @settings(
            max_examples=depth.examples * len(strategies),
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies))
        def check(case: Any) -> None:
            # A case made invalid by dropping a required header (the token) is sent as it was
            # made: a caller's headers would put back what the case is about.
            callers = (None,) if _negative_at_header(case) else depth.callers(case.operation.label)
            for who in callers:
                try:
                    before = probe.version() if probe else 0
                    response = case.call(headers=headers[who])
                    answered[f"{case.operation.label} {response.status_code // 100}xx"] += 1
                    if probe and 400 <= response.status_code < 500 and probe.version() != before:
                        key = (case.operation.label, str(who), "a 4xx answer wrote to the database")
                        failures.setdefault(
                            key, f"{case.method} {case.formatted_path} -> {response.text[:500]}"
                        )
                    case.validate_response(response, checks=checks, headers=headers[who])
                except FailureGroup as group:
                    for failure in group.exceptions:
                        key = (case.operation.label, str(who), _summary(failure))
                        failures.setdefault(key, str(group)[:3000])

        check()
    return failures, answered


def part_of(operations: list[Any], part: int) -> list[Any]:
    """The ``part``-th of ``PARTS`` runs of ``operations``, in the document's order: each
    operation follows the one it follows in the whole walk, whose writes it may meet (a proof
    read signs a fresh checkpoint when the log has grown since the last)."""
    size = -(-len(operations) // PARTS)
    return operations[part * size : (part + 1) * size]


def _report(failures: dict[tuple[str, str, str], str]) -> str:
    listed = "\n\n".join(f"{op} as {who}: {detail}" for (op, who, _), detail in failures.items())
    return f"{len(failures)} failures\n\n{listed}"


@pytest.mark.parametrize("part", range(PARTS))
def test_every_check_holds_for_every_caller(fuzz_scenario: Scenario, part: int) -> None:
    platform = fuzz_scenario.platform
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", platform.client.app)
    every = [result.ok() for result in schema.get_all_operations()]
    assert len(every) >= 90
    assert {op.label for op in every} <= API_MATRIX.keys()  # a row for each, to read callers by
    operations = part_of(every, part)
    ids = real_ids(fuzz_scenario)
    unknown = {
        (operation.label, parameter.name)
        for operation in operations
        for parameter in operation.path_parameters
        if parameter.name not in ids
    }
    assert not unknown, f"path parameters without a real object to aim at: {unknown}"
    headers = {who: platform[who].headers if who else {} for who in CALLERS}

    for who in CALLERS:  # a token's first use records when it was used: not bad input's write
        if who is not None:
            platform.call(who, "GET", "/me", 200)
    depth = Depth.of(platform, API_MATRIX)
    failures, answered = fuzz(
        operations, headers, CHECK_FUNCTIONS, ids, depth, WriteProbe.of(platform)
    )

    assert not failures, _report(failures)
    # The examples get past the parsing and the policy: most operations answer a 2xx to someone.
    succeeded = {op.label for op in operations if answered[f"{op.label} 2xx"]}
    assert len(succeeded) >= len(operations) // 2, sorted(
        set(o.label for o in operations) - succeeded
    )


def web_schema() -> dict[str, Any]:
    """An OpenAPI document of the pages, which the API's document leaves out."""
    pages = []
    for route in (route for router in web_pages.ROUTERS for route in router.routes):
        if isinstance(route, APIRoute):
            page = copy.copy(route)
            page.include_in_schema = True
            pages.append(page)
    return get_openapi(title="prereview pages", version="0", routes=pages)


@pytest.mark.parametrize("part", range(PARTS))
def test_pages_never_fail_for_any_caller(fuzz_scenario: Scenario, part: int) -> None:
    """The pages (sign-in, sign-out, the review workflow's forms) as each caller signed in with
    a web session and from this site. They answer HTML, not problem+json, and the page routes
    are out of the API's document, so only ``not_a_server_error`` applies."""
    platform = fuzz_scenario.platform
    app = platform.client.app
    assert isinstance(app, FastAPI)
    schema = schemathesis.openapi.from_dict(web_schema())
    schema.app = app
    every = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in every} >= {"POST /web/login", "POST /web/logout"}
    assert {op.label for op in every} <= WEB_MATRIX.keys()
    operations = part_of(every, part)
    site = {"Origin": "http://testserver"}
    headers: dict[Caller, dict[str, str]] = {None: site}
    for who in CALLERS:
        if who is not None:
            signed_in = platform.client.post(
                "/web/login",
                data={"token": platform[who].token},
                headers=site,
                follow_redirects=False,
            )
            assert signed_in.status_code == 303, signed_in.text
            headers[who] = site | {"Cookie": f"{COOKIE}={signed_in.cookies[COOKIE]}"}
    platform.client.cookies.clear()
    # Signing out would end the sessions that the other pages are sent with: it goes last (a
    # later part, on the same scenario, signs in afresh).
    operations.sort(key=lambda op: op.label == "POST /web/logout")

    # No write probe here: a page that refuses a form shows the page again with the error, and
    # the reads it shows are audited (a write that is the truth, not bad input half-written).
    depth = Depth.of(platform, WEB_MATRIX)
    ids = real_ids(fuzz_scenario)
    failures, answered = fuzz(operations, headers, [not_a_server_error], ids, depth)

    assert not failures, _report(failures)
    # The examples aimed at the real objects get past the policy to the page.
    page = "GET /web/submissions/{submission_id}"
    assert page not in {op.label for op in operations} or answered[f"{page} 2xx"], answered


def test_every_operation_documents_its_problem_answers(fuzz_scenario: Scenario) -> None:
    spec: dict[str, Any] = fuzz_scenario.platform.client.app.openapi()  # type: ignore[attr-defined]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            declared = op["responses"].get("4XX", {}).get("content", {})
            assert list(declared) == ["application/problem+json"], (method, path, op["responses"])
            assert "422" not in op["responses"], (method, path)  # FastAPI's, not what is sent

"""Schemathesis walks the OpenAPI document and finds no 5xx, as every kind of caller.

Generated requests are mostly invalid on purpose; each must get a problem+json 4xx or a 2xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from conftest import START
from prereview.api import create_app
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.settings import Settings
from support.factories import Platform
from support.scenario import Scenario


@pytest.fixture(scope="module")
def fuzz_platform(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Platform]:
    import shutil

    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copyfile(sqlite_template, path)
    context = AppContext.create(Settings(database_url=f"sqlite:///{path}"), FixedClock(START))
    app = create_app(context=context)
    with TestClient(app, raise_server_exceptions=False) as client:
        platform = Platform.populate(context, client)
        Scenario.build(platform)
        yield platform
    context.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzz_platform: Platform) -> Any:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_platform.client.app)


def test_no_server_errors(api_schema: Any, fuzz_platform: Platform) -> None:
    # Schemathesis's own pytest plugin does not run on this pytest; its strategies do, driven
    # here by Hypothesis directly, one operation at a time.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            for who in ("developer", "agency", "partner", None):
                headers = fuzz_platform[who].headers if who else {}
                response = case.call(headers=headers)
                assert response.status_code < 500, (who, case.method, case.path, response.text)
                if response.status_code >= 400:
                    content_type = response.headers["content-type"]  # a list in schemathesis
                    assert content_type[0].startswith("application/problem+json"), content_type
                    assert response.json()["type"].startswith("urn:prereview:problem:")

        check()

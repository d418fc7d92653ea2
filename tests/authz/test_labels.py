"""Every route's ``x-permission`` label is the permission of the use case it really runs.

Routes take their label from the use case they call (``exercises``); this test checks the
other half: calling each operation of the API as every kind of caller, the first use case the
request enters declares exactly the permission the route is labelled with. A route labelled
from one use case but calling another fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from authz.test_authorization_matrix import EXPECTED
from prereview.authz.permissions import Permission
from prereview.authz.usecase import observe_use_cases
from support.factories import Platform
from support.matrix import ACTORS, SHARDS, shard
from support.scenario import Scenario, operations


@pytest.mark.parametrize("part", range(SHARDS))
def test_each_route_runs_the_use_case_its_label_names(platform: Platform, part: int) -> None:
    spec: dict[str, Any] = platform.client.app.openapi()  # type: ignore[attr-defined]
    shared = Scenario.build(platform)
    ran: list[Permission] = []
    stop = observe_use_cases(ran.append)
    # The example call may first build what it needs through the API: keep only what the
    # operation's own request runs.
    hooks = platform.client.event_hooks
    platform.client.event_hooks = {**hooks, "request": [*hooks["request"], lambda _: ran.clear()]}
    mismatched: dict[str, tuple[str, list[str]]] = {}
    checked = 0
    try:
        for method, template in shard(operations(spec), part):
            label = spec["paths"][template][method.lower()]["x-permission"]
            if label == "public":
                continue
            # A caller the matrix refuses is refused before or inside the use case, which the
            # matrix checks: it is not called here, so no fresh scenario is built for it.
            expected = EXPECTED[f"{method} {template}"]
            for member, wanted in zip(ACTORS.values(), expected, strict=True):
                if wanted >= 300:
                    continue
                scenario = shared if method == "GET" else Scenario.build(platform)
                status = scenario.call(member, method, template).status_code
                if status >= 300:
                    continue  # refused before or inside the use case: the matrix covers it
                checked += 1
                if not ran or ran[0].value != label:
                    mismatched[f"{method} {template}"] = (label, [p.value for p in ran])
    finally:
        stop()
        platform.client.event_hooks = hooks
    assert checked >= 10  # not vacuous: most routes let some caller through
    assert not mismatched, mismatched

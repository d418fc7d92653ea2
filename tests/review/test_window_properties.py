"""Hypothesis drives random sequences of actions by everyone through the API and checks, after
every step, the rules no sequence may break:

* only the developer's own update changes the planned release date;
* the developer can release at any point, whatever happened before;
* no grant is live outside an open window, or beyond the policy maximum from its opening;
* after withdrawal or release, no grant is live.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conftest import START
from prereview.core.clock import FixedClock
from support.factories import Platform

OTHERS = ["agency", "other_agency", "partner", "other_partner", "other_developer", "clearinghouse"]
REVIEWERS = ["agency", "other_agency", "partner", "other_partner"]
FINDING = {"title": "t", "description": "d", "severity": "critical", "category": "other"}


def test_random_sequences_keep_the_rules(platform: Platform, clock: FixedClock) -> None:
    max_days = platform.context.settings.max_window_days

    class Review(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            clock.set(START)
            self.planned: str | None = (START + timedelta(days=40)).isoformat()
            sub = platform.submit(planned_release_at=self.planned)
            self.sid: str = sub["id"]
            self.ended = False  # released or withdrawn

        def call(self, who: str, method: str, path: str, **kw: Any) -> Any:
            response = platform.call(who, method, f"/submissions/{self.sid}{path}", **kw)
            assert response.status_code < 500, response.text
            return response

        @rule(agency=st.sampled_from(["agency", "other_agency"]), days=st.integers(1, 120))
        def developer_grants(self, agency: str, days: int) -> None:
            self.call(
                "developer",
                "POST",
                "/grants",
                json={"agency_org_id": platform[agency].org_id, "window_days": days},
            )
            self.call(
                "developer", "POST", "/grants", json={"agency_org_id": platform[agency].org_id}
            )

        @rule(days=st.integers(1, 120))
        def developer_changes_window(self, days: int) -> None:
            self.call("developer", "PUT", "/window", json={"days": days})

        @rule(who=st.sampled_from(OTHERS), days=st.integers(-10, 100))
        def others_try_to_move_the_date(self, who: str, days: int) -> None:
            new = (clock.now() + timedelta(days=days)).isoformat()
            self.call(who, "PATCH", "", json={"planned_release_at": new})
            self.call(who, "POST", "/release")
            self.call(who, "POST", "/withdraw", json={})
            self.call(who, "PUT", "/window", json={"days": 14})

        @rule(days=st.one_of(st.none(), st.integers(-5, 100)))
        def developer_moves_the_date(self, days: int | None) -> None:
            new = None if days is None else (clock.now() + timedelta(days=days)).isoformat()
            response = self.call("developer", "PATCH", "", json={"planned_release_at": new})
            if days is not None and days <= 0:
                # A date not ahead is refused (the release action is for that): nothing changes.
                assert response.status_code == 422, response.text
                return
            assert response.status_code == 200
            self.planned = new

        @rule(who=st.sampled_from(REVIEWERS))
        def reviewers_act(self, who: str) -> None:
            self.call(who, "POST", "/findings", json=FINDING)
            for nominee in ("partner", "other_partner"):
                self.call(
                    who,
                    "POST",
                    "/nominations",
                    json={"partner_org_id": platform[nominee].org_id, "reason": "r"},
                )

        @rule(consent=st.booleans())
        def developer_decides_nominations(self, consent: bool) -> None:
            for nomination in self.call("developer", "GET", "/nominations").json()["items"]:
                verb = "consent" if consent else "decline"
                self.call("developer", "POST", f"/nominations/{nomination['id']}/{verb}")

        @rule()
        def developer_revokes_a_grant(self) -> None:
            grants = self.call("developer", "GET", "/grants").json()["items"]
            if grants:
                self.call("developer", "POST", f"/grants/{grants[0]['id']}/revoke")

        @rule(hours=st.integers(1, 24 * 20))
        def time_passes(self, hours: int) -> None:
            clock.advance(timedelta(hours=hours))

        @rule(withdraw=st.booleans())
        def developer_ends_it(self, withdraw: bool) -> None:
            action = "/withdraw" if withdraw else "/release"
            assert self.call("developer", "POST", action, json={}).status_code == 200
            self.ended = True

        @invariant()
        def release_date_is_the_developers(self) -> None:
            seen = self.call("developer", "GET", "").json()["planned_release_at"]
            if self.planned is None:
                assert seen is None
            else:
                assert datetime.fromisoformat(
                    seen.replace("Z", "+00:00")
                ) == datetime.fromisoformat(self.planned)

        @invariant()
        def no_grant_outlives_its_window(self) -> None:
            sub = self.call("developer", "GET", "").json()
            window = sub["window"]
            live = [
                g for g in self.call("developer", "GET", "/grants").json()["items"] if g["active"]
            ]
            if live:
                assert window["state"] in ("open", "closing_soon")
                assert not self.ended
                opened = datetime.fromisoformat(window["opened_at"].replace("Z", "+00:00"))
                assert clock.now() < opened + timedelta(days=max_days)
            if window["state"] not in ("open", "closing_soon"):
                assert not live
                for who in REVIEWERS:
                    assert (
                        platform.call(
                            who, "POST", f"/submissions/{self.sid}/findings", json=FINDING
                        ).status_code
                        >= 400
                    )

        def teardown(self) -> None:
            # Whatever happened, the developer can release, and a second time too.
            assert self.call("developer", "POST", "/release").status_code == 200
            assert self.call("developer", "POST", "/release").status_code == 200

    run_state_machine_as_test(
        Review,
        settings=settings(
            max_examples=12,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )

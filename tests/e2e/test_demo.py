"""The demo scenario seeds what the README tour shows, and can be seeded again safely."""

from __future__ import annotations

import stat
from pathlib import Path

from fastapi.testclient import TestClient

from prereview.core.context import AppContext
from prereview.demo import seed, write_env


def test_demo_scenario(context: AppContext, client: TestClient, tmp_path: Path) -> None:
    tokens = seed(context)
    again = seed(context)
    assert tokens.ids == again.ids, "seeding twice must not duplicate the scenario"
    assert tokens.values != again.values, "each start issues fresh tokens"

    def get(name: str, path: str) -> object:
        response = client.get(
            f"/api/v1{path}", headers={"Authorization": f"Bearer {again.values[name]}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    subs = get("DEV_TOKEN", "/submissions")
    assert isinstance(subs, dict)
    states = {s["model_version"]: s["window"]["state"] for s in subs["items"]}
    assert states == {"2.0": "open", "1.5": "closed_released"}

    queue = get("CISA_TOKEN", "/queue")
    assert isinstance(queue, dict)
    queue = queue["items"]
    assert [q["submission_id"] for q in queue] == [again.ids["OPEN_SUBMISSION"]]
    hospital = get("HOSPITAL_TOKEN", "/queue")
    assert isinstance(hospital, dict)
    hospital = hospital["items"]
    assert [q["submission_id"] for q in hospital] == [again.ids["OPEN_SUBMISSION"]]
    assert hospital[0]["my_findings"] == 1
    # Nominated, not yet consented: nothing in the bank's queue.
    assert get("BANK_TOKEN", "/queue") == {"items": [], "total": 0, "limit": 50, "offset": 0}

    open_id = again.ids["OPEN_SUBMISSION"]
    findings = get("DEV_TOKEN", f"/submissions/{open_id}/findings")
    assert isinstance(findings, dict) and findings["total"] == 3
    nominations = get("DEV_TOKEN", f"/submissions/{open_id}/nominations")
    assert isinstance(nominations, dict)
    nominations = nominations["items"]
    assert sorted(n["status"] for n in nominations) == ["consented", "pending"]

    env = tmp_path / "demo.env"
    write_env(again, env)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert f"export DEV_TOKEN={again.values['DEV_TOKEN']}" in env.read_text()

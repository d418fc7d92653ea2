"""The gateway pages: the developer registers its endpoint (never shown back) and sets limits; a
reviewer makes a key (shown once), lists and revokes it after confirming; bad forms change
nothing, and nobody reaches what the API would not let them."""

from __future__ import annotations

from typing import Any

from prereview.web.session import COOKIE
from support.factories import Platform
from support.web_console import store_transcript
from support.web_matrix import SITE, sign_in

API_KEY = "sk-secret-upstream-key-93b1d0"
BASE_URL = "https://models.internal.example-lab.com/pre/v1"


def _as(platform: Platform, who: str) -> dict[str, str]:
    return SITE | {"cookie": f"{COOKIE}={sign_in(platform, who)}"}


def _submission(platform: Platform) -> tuple[str, dict[str, Any]]:
    sub = platform.submit(model_name="Helios")
    grant = platform.grant(sub["id"])
    return str(sub["id"]), grant


def _post(platform: Platform, headers: dict[str, str], path: str, **data: Any) -> Any:
    return platform.client.post(path, headers=headers, data=data, follow_redirects=False)


def test_developer_registers_its_endpoint_which_is_never_shown(platform: Platform) -> None:
    sid, _ = _submission(platform)
    developer = _as(platform, "developer")
    empty = platform.client.get(f"/web/submissions/{sid}/gateway", headers=developer)
    assert empty.status_code == 200 and 'id="no-upstream"' in empty.text
    answer = _post(
        platform,
        developer,
        f"/web/submissions/{sid}/gateway/upstream",
        base_url=BASE_URL,
        upstream_model="atlas-2-rc3",
        public_model="atlas-preview",
        api_key=API_KEY,
        keep_transcripts="on",
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/web/submissions/{sid}/gateway"
    shown = platform.call("developer", "GET", f"/submissions/{sid}/gateway/upstream", 200).json()
    assert shown["public_model"] == "atlas-preview" and shown["upstream_model"] == "atlas-2-rc3"
    assert shown["credential_headers"] == ["authorization"] and shown["keep_transcripts"]
    page = platform.client.get(f"/web/submissions/{sid}/gateway", headers=developer)
    assert 'id="upstream"' in page.text and "atlas-preview" in page.text
    assert API_KEY not in page.text and "models.internal" not in page.text
    # The reviewer learns the public name to call, never the upstream's.
    agency = platform.client.get(f"/web/submissions/{sid}/gateway", headers=_as(platform, "agency"))
    assert "atlas-preview" in agency.text and "atlas-2-rc3" not in agency.text
    assert 'id="upstream-form"' not in agency.text


def test_a_bad_or_private_endpoint_is_refused_without_repeating_it(platform: Platform) -> None:
    sid, _ = _submission(platform)
    developer = _as(platform, "developer")
    path = f"/web/submissions/{sid}/gateway/upstream"
    for url, words in (
        ("http://127.0.0.1:9/v1", "refused"),
        ("ftp://" + API_KEY + ".example.com/v1", "http"),
        ("https://user:" + API_KEY + "@models.example.com/v1", "credentials"),
    ):
        answer = _post(platform, developer, path, base_url=url, upstream_model="m", api_key="k")
        assert answer.status_code == 422, (url, answer.text)
        assert (
            words in answer.text and API_KEY not in answer.text and "127.0.0.1" not in answer.text
        )
    platform.call("developer", "GET", f"/submissions/{sid}/gateway/upstream", 404)
    # A reviewer may not register it; an outsider does not learn the submission exists.
    form = {"base_url": BASE_URL, "upstream_model": "m"}
    assert _post(platform, _as(platform, "agency"), path, **form).status_code == 403
    assert _post(platform, _as(platform, "other_developer"), path, **form).status_code == 404
    platform.call("developer", "GET", f"/submissions/{sid}/gateway/upstream", 404)


def test_developer_sets_and_clears_limits(platform: Platform) -> None:
    sid, grant = _submission(platform)
    developer = _as(platform, "developer")
    path = f"/web/submissions/{sid}/gateway/limits"
    page = platform.client.get(f"/web/submissions/{sid}/gateway", headers=developer)
    assert f'value="grant:{grant["id"]}"' in page.text and "agency org" in page.text
    answer = _post(
        platform,
        developer,
        path,
        access=f"grant:{grant['id']}",
        requests_per_minute="30",
        tokens_per_day="100000",
        concurrent_streams="",
    )
    assert answer.status_code == 303, answer.text
    limits = platform.call("developer", "GET", f"/submissions/{sid}/gateway/limits", 200).json()[
        "items"
    ]
    assert [
        (x["requests_per_minute"], x["tokens_per_day"], x["concurrent_streams"]) for x in limits
    ] == [(30, 100000, None)]
    agency = platform.client.get(f"/web/submissions/{sid}/gateway", headers=_as(platform, "agency"))
    assert "100000" in agency.text
    for bad in ({"requests_per_minute": "lots"}, {"requests_per_minute": "0"}):
        refused = _post(platform, developer, path, access=f"grant:{grant['id']}", **bad)
        assert refused.status_code == 422, refused.text
    for access, status in (("grant:gr_nope", 404), ("key:x", 422), ("grant:", 422)):
        assert _post(platform, developer, path, access=access).status_code == status, access
    assert (
        _post(platform, _as(platform, "agency"), path, access=f"grant:{grant['id']}").status_code
        == 403
    )
    unchanged = platform.call("developer", "GET", f"/submissions/{sid}/gateway/limits", 200).json()[
        "items"
    ]
    assert unchanged == limits
    cleared = _post(platform, developer, path, access=f"grant:{grant['id']}")
    assert cleared.status_code == 303
    limits = platform.call("developer", "GET", f"/submissions/{sid}/gateway/limits", 200).json()[
        "items"
    ]
    assert limits[0]["requests_per_minute"] is None and limits[0]["tokens_per_day"] is None


def test_reviewer_makes_a_key_shown_once_and_revokes_it_after_confirming(
    platform: Platform,
) -> None:
    sid, _ = _submission(platform)
    agency = _as(platform, "agency")
    made = _post(platform, agency, f"/web/submissions/{sid}/gateway/keys", name="eval runner")
    assert made.status_code == 200, made.text
    secret = made.text.split('<pre id="secret" class="secret">')[1].split("</pre>")[0]
    assert secret.startswith("pgw_") and 'data-copy="secret"' in made.text
    assert made.headers["cache-control"] == "no-store"
    keys = platform.call("agency", "GET", f"/submissions/{sid}/gateway/keys", 200).json()["items"]
    assert [(k["name"], k["prefix"]) for k in keys] == [("eval runner", secret[:10])]
    key_id = keys[0]["id"]
    # The gateway takes the key (the real one, not a display copy): past the key check, it
    # says only that no endpoint is registered yet.
    models = platform.client.get(
        "/gateway/v1/models", headers={"authorization": f"Bearer {secret}"}
    )
    assert models.status_code == 503, models.text
    assert "upstream-not-configured" in models.text
    page = platform.client.get(f"/web/submissions/{sid}/gateway", headers=agency)
    assert secret not in page.text and "eval runner" in page.text and secret[:10] in page.text
    assert f"/gateway/keys/{key_id}/revoke" in page.text and "hx-confirm" in page.text

    confirm = platform.client.get(
        f"/web/submissions/{sid}/gateway/keys/{key_id}/revoke", headers=agency
    )
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    # Confirming is the agency's or the developer's: the partner and outsiders are not told of it.
    for who in ("partner", "other_agency", "other_developer"):
        seen = _as(platform, who)
        path = f"/web/submissions/{sid}/gateway/keys/{key_id}/revoke"
        assert platform.client.get(path, headers=seen).status_code == 404, who
        assert _post(platform, seen, path).status_code == 404, who
    assert (
        platform.call("agency", "GET", f"/submissions/{sid}/gateway/keys", 200).json()["items"][0][
            "revoked_at"
        ]
        is None
    )
    revoked = _post(platform, agency, f"/web/submissions/{sid}/gateway/keys/{key_id}/revoke")
    assert revoked.status_code == 303
    keys = platform.call("agency", "GET", f"/submissions/{sid}/gateway/keys", 200).json()["items"]
    assert keys[0]["revoked_at"] is not None
    after = platform.client.get("/gateway/v1/models", headers={"authorization": f"Bearer {secret}"})
    assert after.status_code in (401, 403) and "upstream-not-configured" not in after.text
    page = platform.client.get(f"/web/submissions/{sid}/gateway", headers=agency)
    assert "revoked" in page.text
    # The developer sees every key issued on its submission, by organisation name.
    mine = platform.client.get(
        f"/web/submissions/{sid}/gateway", headers=_as(platform, "developer")
    )
    assert "eval runner" in mine.text and "agency org" in mine.text and secret not in mine.text


def test_a_key_needs_live_access_and_a_name(platform: Platform) -> None:
    sid, _ = _submission(platform)
    path = f"/web/submissions/{sid}/gateway/keys"
    assert _post(platform, _as(platform, "developer"), path, name="mine").status_code == 403
    assert _post(platform, _as(platform, "other_agency"), path, name="x").status_code == 404
    assert _post(platform, _as(platform, "agency"), path, name="   ").status_code == 422
    platform.call("developer", "POST", f"/submissions/{sid}/release", 200)
    closed = _post(platform, _as(platform, "agency"), path, name="late")
    assert closed.status_code in (403, 404, 409), closed.text
    assert (
        platform.call("agency", "GET", f"/submissions/{sid}/gateway/keys", 200).json()["items"]
        == []
    )


def test_a_kept_transcript_is_read_by_its_caller_and_the_developer_audited(
    platform: Platform,
) -> None:
    sid, _ = _submission(platform)
    hostile = b'{"messages":[{"role":"user","content":"<script>alert(1)</script>"}]}'
    call_id = store_transcript(platform, sid, hostile, b'{"choices":[{"text":"refused"}]}')
    developer = _as(platform, "developer")
    listing = platform.client.get(f"/web/submissions/{sid}/gateway", headers=developer)
    link = f"/web/submissions/{sid}/gateway/transcripts/{call_id}"
    assert link in listing.text and "agency org" in listing.text
    for who in ("developer", "agency"):
        shown = platform.client.get(link, headers=_as(platform, who))
        assert shown.status_code == 200, (who, shown.text)
        assert (
            "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
            and "<script>alert" not in shown.text
        )
        assert "&#34;text&#34;: &#34;refused&#34;" in shown.text  # indented JSON, escaped
    for who, status in (("partner", 404), ("other_agency", 404), ("other_developer", 404)):
        assert platform.client.get(link, headers=_as(platform, who)).status_code == status, who
    trail = platform.call("developer", "GET", f"/submissions/{sid}/audit", 200).json()["items"]
    reads = [e for e in trail if e["action"] == "gateway:transcript:read"]
    assert len(reads) == 2 and {e["object_id"] for e in reads} == {call_id}
    missing = platform.client.get(
        f"/web/submissions/{sid}/gateway/transcripts/call-nope", headers=developer
    )
    assert missing.status_code == 404

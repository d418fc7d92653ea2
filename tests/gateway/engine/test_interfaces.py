"""Secret hygiene of what the engine is handed: credentials never print, nor ride in URLs."""

from __future__ import annotations

import pytest

from prereview.gateway import GrantContext, SecretHeaders


async def _never_closed() -> None:
    return None


def test_secret_headers_never_print_their_values() -> None:
    headers = SecretHeaders({"Authorization": "Bearer sk-abc-123", "X-Org": "lab-org-9"})
    context = GrantContext(
        access_id="g",
        org_id="o",
        submission_id="s",
        key_id="k",
        public_model="m",
        upstream_model="u",
        upstream_base_url="https://lab.example/v1?token=abc",
        credential_headers=headers,
        recheck=_never_closed,
    )
    for text in (repr(headers), str(headers), repr(context), str(context)):
        assert "sk-abc-123" not in text
        assert "lab-org-9" not in text
        assert "token=abc" not in text
    assert set(headers.secret_values()) == {"Bearer sk-abc-123", "sk-abc-123", "lab-org-9"}


def test_context_refuses_urls_with_embedded_credentials() -> None:
    with pytest.raises(ValueError, match="must not embed credentials") as caught:
        GrantContext(
            access_id="g",
            org_id="o",
            submission_id="s",
            key_id="k",
            public_model="m",
            upstream_model="u",
            upstream_base_url="https://user:hunter2@lab.example/v1",
            credential_headers=SecretHeaders({}),
            recheck=_never_closed,
        )
    assert "hunter2" not in str(caught.value)

"""The interactive API documentation (set up in :mod:`prereview.api`) works offline.

Swagger UI used to load its script and style sheet from a CDN, so the page was blank without a
network. The page must now name no other origin, the assets it names must be served by the
site, and its Content-Security-Policy must allow exactly that: the site and the one inline
script that starts Swagger UI.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.testclient import TestClient

from prereview.api import DOCS_URL, OPENAPI_URL

_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def test_the_docs_page_names_no_other_origin(client: TestClient) -> None:
    page = client.get(DOCS_URL)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://|//[a-z]", page.text.replace(f"url: '{OPENAPI_URL}'", ""))
    assert f"'{OPENAPI_URL}'" in page.text
    assert "validatorUrl" in page.text  # the public validator's badge is switched off


def test_the_assets_it_names_are_served(client: TestClient) -> None:
    page = client.get(DOCS_URL).text
    named = _URL.findall(page)
    assert len(named) == 3  # script, style sheet, icon
    wanted = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for url in named:
        assert url.startswith(DOCS_URL + "/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        kind = next(v for k, v in wanted.items() if url.endswith(k))
        assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 1000
    script = next(u for u in named if u.endswith(".js"))
    # Swagger UI 5: the first release that renders the OpenAPI 3.1 document FastAPI writes.
    assert client.get(OPENAPI_URL).json()["openapi"].startswith("3.1")
    assert b'"5.' in client.get(script).content
    assert client.get(DOCS_URL + "/assets/missing.js").status_code == 404


def test_the_policy_allows_the_site_and_the_inline_script_only(client: TestClient) -> None:
    page = client.get(DOCS_URL)
    policy = page.headers["content-security-policy"]
    assert "http" not in policy and "*" not in policy and "unsafe" not in policy
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    (inline,) = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert directives["script-src"] == f"'self' 'sha256-{digest}'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    # The assets get the same policy, and the framing rules.
    asset = client.get(DOCS_URL + "/assets/swagger-ui.css")
    assert asset.headers["content-security-policy"] == policy
    assert asset.headers["x-frame-options"] == "DENY"

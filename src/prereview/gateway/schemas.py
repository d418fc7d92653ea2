"""Request and response models of the gateway's API.

No answer model has a field for the upstream's base URL or a credential value: what the
developer registered is confirmed by header *names* only, so no route can return a secret by
mistake.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\s]+$")]
# RFC 9110 token characters; the header names the gateway sets itself may not be replaced.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
_RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "accept", "host", "transfer-encoding", "connection"}
)


class UpstreamSet(BaseModel):
    """The developer's endpoint: an OpenAI base URL (usually ending in ``/v1``), the model name
    it expects, the name reviewers use, and the credentials (an API key, or other headers)."""

    model_config = ConfigDict(extra="forbid")

    base_url: Annotated[SecretStr, Field(description="OpenAI base URL, e.g. https://host/v1.")]
    upstream_model: ModelName
    public_model: ModelName | None = Field(
        default=None,
        description="The name reviewers send and see; defaults to the submission's model name "
        "(white space as '-'), never to the upstream's internal name.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Sent as 'Authorization: Bearer <api_key>'."
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Other credential headers, e.g. {'api-key': '...'}."
    )
    keep_transcripts: StrictBool = Field(
        default=False,
        description="Keep every prompt and completion, encrypted in the vault, readable by you "
        "and by the calling organisation.",
    )

    @field_validator("base_url")
    @classmethod
    def _absolute_http(cls, value: SecretStr) -> SecretStr:
        # Messages never repeat the URL: it is confidential, and errors are shown and logged.
        text = value.get_secret_value()
        if len(text) > 2000:
            raise ValueError("the base URL is longer than 2000 characters")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ValueError("the base URL is not a valid URL") from None
        del port
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("the base URL must be an absolute http:// or https:// URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError("the base URL must not embed credentials; send them as headers")
        if parts.query or parts.fragment:
            raise ValueError("the base URL must not have a query or a fragment")
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        if len(value) > 20:
            raise ValueError("at most 20 credential headers")
        seen: set[str] = set()
        for name, secret in value.items():
            lowered = name.lower()
            if not _HEADER_NAME.match(name):
                raise ValueError("header names must be HTTP tokens (letters, digits, '-')")
            if lowered in _RESERVED_HEADERS:
                raise ValueError(f"the gateway sets '{lowered}' itself")
            if lowered in seen:
                raise ValueError(f"header '{lowered}' is given twice")
            seen.add(lowered)
            text = secret.get_secret_value()
            if not text or len(text) > 8000 or any(c in text for c in "\r\n\x00"):
                raise ValueError(f"the value of header '{lowered}' must be one non-empty line")
        return value

    @field_validator("api_key")
    @classmethod
    def _one_line(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            text = value.get_secret_value()
            if not text or len(text) > 8000 or any(c in text for c in "\r\n\x00 "):
                raise ValueError("the API key must be one non-empty token without spaces")
        return value

    @model_validator(mode="after")
    def _one_authorization(self) -> UpstreamSet:
        if self.api_key is not None and any(n.lower() == "authorization" for n in self.headers):
            raise ValueError("give either api_key or an Authorization header, not both")
        return self

    def credential_headers(self) -> dict[str, str]:
        """The headers to seal: ``Authorization`` from ``api_key`` plus the others."""
        out = {name.lower(): v.get_secret_value() for name, v in self.headers.items()}
        if self.api_key is not None:
            out["authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return out


class UpstreamOut(BaseModel):
    submission_id: str
    public_model: str
    upstream_model: str
    credential_headers: list[str] = Field(description="Names of the sealed headers only.")
    keep_transcripts: bool
    version: int
    updated_at: datetime


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class KeyOut(BaseModel):
    id: str
    submission_id: str
    org_id: str
    access: Literal["grant", "nomination"]
    access_id: str
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    created_at: datetime
    revoked_at: datetime | None


class KeyIssued(KeyOut):
    key: str = Field(description="The key itself. It is shown once and cannot be recovered.")
    base_url: str = Field(description="The OpenAI base URL to use it with.")


class LimitsSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests_per_minute: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    tokens_per_day: StrictInt | None = Field(default=None, ge=1, le=10**12)
    concurrent_streams: StrictInt | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Calls in flight at once, streaming or not.",
    )


class LimitsOut(LimitsSet):
    model_config = ConfigDict(extra="ignore")

    access_id: str
    submission_id: str
    updated_at: datetime | None


class TranscriptItem(BaseModel):
    call_id: str
    submission_id: str
    access_id: str
    org_id: str
    endpoint: str
    request_size: int
    response_size: int
    started_at: datetime


class TranscriptOut(TranscriptItem):
    request: str
    response: str

"""Request and response models of the review workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

from prereview.core.fields import UtcDatetime
from prereview.core.markings import TLP, Marking
from prereview.review.kinds import (
    Access,
    FindingCategory,
    MaterialKind,
    Modality,
    NominationStatus,
    ResponseStatus,
    Severity,
)
from prereview.review.window import WindowState

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(max_length=50_000)]
RequiredText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000)
]


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line
    email: EmailStr
    role: Annotated[str, StringConstraints(max_length=100)] = ""


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: Line
    model_version: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    description: Text = ""
    modalities: list[Modality] = Field(default_factory=lambda: [Modality.TEXT], max_length=10)
    training_compute_flop: StrictFloat | None = Field(default=None, gt=0, lt=1e40)
    parameter_count: StrictInt | None = Field(default=None, gt=0, lt=10**16)
    planned_release_at: UtcDatetime | None = None
    access_offered: list[Access] = Field(default_factory=lambda: [Access.HOSTED_API], max_length=3)
    contacts: list[Contact] = Field(default_factory=list, max_length=20)


class SubmissionUpdate(BaseModel):
    """Fields the developer may change at any time. Absent fields are left as they are;
    ``planned_release_at: null`` clears the planned date."""

    model_config = ConfigDict(extra="forbid")

    description: Text | None = None
    modalities: list[Modality] | None = Field(default=None, max_length=10)
    training_compute_flop: StrictFloat | None = Field(default=None, gt=0, lt=1e40)
    parameter_count: StrictInt | None = Field(default=None, gt=0, lt=10**16)
    planned_release_at: UtcDatetime | None = None
    access_offered: list[Access] | None = Field(default=None, max_length=3)
    contacts: list[Contact] | None = Field(default=None, max_length=20)


class WindowOut(BaseModel):
    state: WindowState
    opened_at: datetime | None
    closes_at: datetime | None
    seconds_left: int | None


class SubmissionOut(BaseModel):
    id: str
    developer_org_id: str
    model_name: str
    model_version: str
    description: str
    modalities: list[str]
    training_compute_flop: float | None
    parameter_count: int | None
    access_offered: list[str]
    contacts: list[Contact]
    planned_release_at: datetime | None = Field(
        description="The developer's planned public release; shown to the developer only."
    )
    released_at: datetime | None
    withdrawn_at: datetime | None
    created_at: datetime
    updated_at: datetime
    window: WindowOut


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


class GrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_org_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    window_days: StrictInt | None = Field(
        default=None,
        ge=1,
        le=366,
        description=(
            "Length of the review window, set by the first grant only; at most the policy "
            "maximum (PREREVIEW_MAX_WINDOW_DAYS). Defaults to the maximum."
        ),
    )


class WindowChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: StrictInt = Field(ge=1, le=366, description="New length of the window from its opening.")


class GrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    submission_id: str
    agency_org_id: str
    granted_at: datetime
    revoked_at: datetime | None
    active: bool


class NominationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner_org_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    reason: RequiredText


class NominationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=5000)] = ""


class NominationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    submission_id: str
    agency_org_id: str
    partner_org_id: str
    reason: str
    status: NominationStatus
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None


class FindingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: RequiredText
    severity: Severity
    category: FindingCategory
    recommended_mitigation: Text = ""
    tlp: TLP = Field(
        default=TLP.AMBER_STRICT,
        description="How far the developer may pass this finding on (TLP 2.0).",
    )
    markings: list[Marking] = Field(default_factory=list, max_length=4)


class ResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ResponseStatus
    text: RequiredText


class ResponseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: ResponseStatus
    text: str
    created_at: datetime


class FindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    submission_id: str
    author_org_id: str
    title: str
    description: str
    severity: Severity
    category: FindingCategory
    recommended_mitigation: str
    tlp: TLP
    markings: list[str]
    created_at: datetime
    status: str = Field(description="'open', or the developer's latest response status")
    responses: list[ResponseOut]


class QueueItem(BaseModel):
    submission_id: str
    model_name: str
    model_version: str
    developer_org_id: str
    window: WindowOut
    my_findings: int


class MaterialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    submission_id: str
    kind: MaterialKind
    filename: str
    content_type: str
    size: int
    sha256: str = Field(description="SHA-256 of the plaintext, hex; check it after download.")
    tlp: TLP
    markings: list[str]
    created_at: datetime

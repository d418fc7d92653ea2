"""The vocabularies of the review workflow."""

from __future__ import annotations

from enum import StrEnum


class Access(StrEnum):
    """What a developer offers reviewers."""

    HOSTED_API = "hosted_api"
    WEIGHTS = "weights"
    DOCUMENTS = "documents"


class Modality(StrEnum):
    TEXT = "text"
    CODE = "code"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    TOOL_USE = "tool_use"


class NominationStatus(StrEnum):
    PENDING = "pending"
    CONSENTED = "consented"
    DECLINED = "declined"


class Severity(StrEnum):
    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FindingCategory(StrEnum):
    CYBER_OFFENSE_CAPABILITY = "cyber_offense_capability"
    SAFEGUARD_BYPASS = "safeguard_bypass"
    THIRD_PARTY_VULNERABILITY = "third_party_vulnerability"
    OTHER = "other"


class ResponseStatus(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    DISPUTED = "disputed"
    WONT_FIX = "wont_fix"


class MaterialKind(StrEnum):
    MODEL_CARD = "model_card"
    SYSTEM_CARD = "system_card"
    EVAL_REPORT = "eval_report"
    SAFETY_FRAMEWORK = "safety_framework"
    WEIGHTS = "weights"
    OTHER = "other"

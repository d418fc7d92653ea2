"""The vocabularies of identity: organisation kinds, roles and critical-infrastructure sectors."""

from __future__ import annotations

from enum import StrEnum


class OrgKind(StrEnum):
    DEVELOPER = "developer"
    AGENCY = "agency"
    TRUSTED_PARTNER = "trusted_partner"
    CLEARINGHOUSE = "clearinghouse"


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class Sector(StrEnum):
    """The 16 US critical-infrastructure sectors (PPD-21, as listed by CISA)."""

    CHEMICAL = "chemical"
    COMMERCIAL_FACILITIES = "commercial_facilities"
    COMMUNICATIONS = "communications"
    CRITICAL_MANUFACTURING = "critical_manufacturing"
    DAMS = "dams"
    DEFENSE_INDUSTRIAL_BASE = "defense_industrial_base"
    EMERGENCY_SERVICES = "emergency_services"
    ENERGY = "energy"
    FINANCIAL_SERVICES = "financial_services"
    FOOD_AND_AGRICULTURE = "food_and_agriculture"
    GOVERNMENT_FACILITIES = "government_facilities"
    HEALTHCARE_AND_PUBLIC_HEALTH = "healthcare_and_public_health"
    INFORMATION_TECHNOLOGY = "information_technology"
    NUCLEAR = "nuclear"
    TRANSPORTATION_SYSTEMS = "transportation_systems"
    WATER_AND_WASTEWATER = "water_and_wastewater"

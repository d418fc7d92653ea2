"""Vulnerability clearinghouse: reports, duplicates, alias groups, cases, embargo and sharing."""

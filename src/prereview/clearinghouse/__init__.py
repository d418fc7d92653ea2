"""Vulnerability clearinghouse: reports, duplicates, alias groups, cases, embargo and sharing.

:mod:`.service` is the published entry point. Inside: :mod:`.intake` (parsing and storing),
:mod:`.reports` (reads under TLP, publication, relabelling), :mod:`.dedup` (duplicates and
relations), :mod:`.cases` (cases, embargo, vendor statuses), :mod:`.sharing` (need to know,
product claims, vendor routing), and the HTTP faces: :mod:`.routes`, the advisory exports
(:mod:`.exports`, rendered by :mod:`prereview.exchange`) and the TAXII 2.1 server
(:mod:`.taxii`).
"""

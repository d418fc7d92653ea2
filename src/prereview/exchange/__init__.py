"""Exchange formats: CSAF 2.0, OSV, CVE JSON 5.1 and STIX 2.1, in and out of the domain model."""

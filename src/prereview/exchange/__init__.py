"""Exchange formats: CSAF 2.0, OSV, CVE JSON 5.1 and STIX 2.1, in and out of the domain model.

Pure converters: they know the vulnerability model (:mod:`prereview.vulnerability`) and the
shared base, nothing of the platform. The routes that serve exports and the TAXII server read
the clearinghouse and authorize, so they are the clearinghouse's (:mod:`prereview.clearinghouse`).
"""

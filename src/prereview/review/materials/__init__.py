"""Materials of a submission: documents and weights shared for review, encrypted in the vault.

``service`` holds the use cases (streamed, encrypted uploads; audited downloads; retention),
``commands`` the command line that drives them over HTTP.
"""

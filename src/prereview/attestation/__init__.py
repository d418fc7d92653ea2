"""Participation attestations: what the log proves about a submission's review, signed.

A developer asks for one (``POST /api/v1/submissions/{id}/attestation``); anyone holding it
checks it offline with :mod:`prereview.attestation.verify`, which depends on nothing else of
the platform. Kept empty so that importing the verifier loads nothing more.
"""

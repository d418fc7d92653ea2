"""The gateway engine: the OpenAI-compatible proxy machinery, free of the platform's tables.

Everything here works on the interfaces in :mod:`prereview.gateway.engine.interfaces` (a
resolver that names the access behind a key, sinks for call records and transcripts, a
limiter, a journal), so it can be served, tested and benchmarked without a database. The
capability modules one level up (:mod:`prereview.gateway.resolver`,
:mod:`prereview.gateway.journal`, :mod:`prereview.gateway.mount`) plug the platform in.
"""

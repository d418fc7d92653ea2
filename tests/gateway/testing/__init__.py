"""Tests of the gateway's test doubles (prereview.gateway.testing)."""

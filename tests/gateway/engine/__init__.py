"""Tests of the gateway engine (prereview.gateway.engine), one module per engine module."""

"""Tests of prereview.audit, one module per source module.

A package so that pytest (default "prepend" import mode) tells this folder's test_service.py
and the like from the same-named modules of other capabilities' test folders.
"""

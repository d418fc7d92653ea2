"""Tests of the web pages, one module per source module."""

"""Tests of prereview.coverage, one module per source module (a package, so that module names
like test_service do not collide with other capabilities' tests of the same name)."""

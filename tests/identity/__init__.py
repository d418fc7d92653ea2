"""Tests of the identity capability, one module per source module (flows named for the flow)."""

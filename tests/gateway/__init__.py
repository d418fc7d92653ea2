"""Tests of the gateway capability, one module per source module (flows named for the flow)."""

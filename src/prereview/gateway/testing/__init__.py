"""Test doubles of the gateway: a simulated OpenAI-compatible upstream and an engine harness.

They ship with the package (not under ``tests/``) because the demo, the benchmarks and the
``prereview gateway simulate`` command use the simulator too; nothing in production imports
them.
"""

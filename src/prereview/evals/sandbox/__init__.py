"""The bubblewrap sandbox provider (registered with Inspect as ``bwrap``)."""

from prereview.evals.sandbox._bwrap import (
    SERVICE_ROOT,
    SERVICE_ROOT_KEY,
    SERVICE_USER,
    BwrapConfig,
    BwrapSandboxEnvironment,
    SandboxError,
    bwrap_argv,
    second_uid_available,
)

__all__ = [
    "SERVICE_ROOT",
    "SERVICE_ROOT_KEY",
    "SERVICE_USER",
    "BwrapConfig",
    "BwrapSandboxEnvironment",
    "SandboxError",
    "bwrap_argv",
    "second_uid_available",
]

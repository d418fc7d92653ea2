"""The bubblewrap sandbox provider (registered with Inspect as ``bwrap``)."""

from prereview.evals.sandbox._bwrap import (
    SERVICE_USER,
    BwrapConfig,
    BwrapSandboxEnvironment,
    SandboxError,
    bwrap_argv,
)

__all__ = ["SERVICE_USER", "BwrapConfig", "BwrapSandboxEnvironment", "SandboxError", "bwrap_argv"]

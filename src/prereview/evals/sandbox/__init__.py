"""The bubblewrap sandbox provider (registered with Inspect as ``bwrap``)."""

from prereview.evals.sandbox._bwrap import (
    BwrapConfig,
    BwrapSandboxEnvironment,
    SandboxError,
    bwrap_argv,
)

__all__ = ["BwrapConfig", "BwrapSandboxEnvironment", "SandboxError", "bwrap_argv"]

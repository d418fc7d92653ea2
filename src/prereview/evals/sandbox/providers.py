"""What the suite's tasks need from each Inspect sandbox provider they can run under.

``bwrap`` (this package, the default) takes a :class:`BwrapConfig`; ``docker`` takes the
compose file ``docker/compose.yaml`` (one networkless, bounded container built from
``docker/Dockerfile``); ``k8s`` (the ``inspect_k8s_sandbox`` package) takes the Helm
values ``k8s/values.yaml`` of the same image. Only ``bwrap`` splits a sample into the
agent's side and the services' side (and gives the services a uid of their own where the
platform runs as root); under ``docker`` and ``k8s`` the agent and the challenge's services
share one container, so the tasks that need the split are left out there.
"""

from __future__ import annotations

from pathlib import Path

from inspect_ai.util import SandboxEnvironmentSpec

from prereview.evals.sandbox._bwrap import BwrapConfig

_HERE = Path(__file__).parent
DOCKER_COMPOSE = _HERE / "docker" / "compose.yaml"
K8S_VALUES = _HERE / "k8s" / "values.yaml"
PROVIDERS = ("bwrap", "docker", "k8s")


def sandbox_spec(name: str, config: BwrapConfig | None = None) -> SandboxEnvironmentSpec | str:
    """The sandbox a task declares for provider ``name``; another name passes unchanged
    (Inspect's own check refuses an unknown one, the runner refuses ``local``)."""
    if name == "bwrap":
        return SandboxEnvironmentSpec("bwrap", config or BwrapConfig())
    if name == "docker":
        return SandboxEnvironmentSpec("docker", str(DOCKER_COMPOSE))
    if name == "k8s":
        return SandboxEnvironmentSpec("k8s", str(K8S_VALUES))
    return name


def splits_services(name: str) -> bool:
    """Whether provider ``name`` keeps the challenge's services out of the agent's sight."""
    return name == "bwrap"

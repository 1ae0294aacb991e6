"""Who is asking: server-side sessions, the client certificate, the security policy, the tenant."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Sessions, the client certificate of both deployments, and the security policy."""
    config.include("core.security.sessions")
    config.include("core.security.client_cert")
    config.include("core.security.policy")

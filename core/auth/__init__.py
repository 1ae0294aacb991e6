"""Authentication (AUTH-): flows and their pipelines of steps, passwords and lockout."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """The user password check service (``IUserPasswordCheck``) and the customer accounts the
    sign-in steps authenticate (``IAccountDirectory``)."""
    config.include("core.auth.user_password")
    config.include("core.auth.accounts")

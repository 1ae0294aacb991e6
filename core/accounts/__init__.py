"""Contract users (ACC-): the master and up to ten general users, their profiles and restrictions."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """The user administration service (``IUserAdministration``)."""
    config.include("core.accounts.users")

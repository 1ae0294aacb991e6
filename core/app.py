"""CJS core: the application factory and the domains every service module relies on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pyramid.config import Configurator

from core.db.models import utcnow
from core.security.client_cert import ClientCertificateMiddleware
from core.settings import ConfigurationError, validate

__all__ = ["ConfigurationError", "close_app", "main", "make_app", "make_config"]


def make_config(settings: Mapping[str, Any], plugins: Iterable[object] = ()) -> Configurator:
    """Validate ``settings`` and build the configurator: plugins, database, views, security.

    ``plugins`` are extra plugin objects registered beside the installed ones (tests use it).
    Raises :class:`ConfigurationError` with one line naming a bad setting.
    """
    from core.plugins import ModuleRegistry, make_plugin_manager

    parsed = validate(settings)
    parsed.setdefault("pyramid.default_locale_name", "ja")
    parsed.setdefault("jinja2.i18n.domain", "cjs")
    parsed.setdefault("jinja2.undefined", "strict")
    pm = make_plugin_manager(plugins, disabled=parsed["cjs.plugins.disabled"])
    config = Configurator(settings=parsed)
    config.registry.cjs_plugins = pm
    config.registry.cjs_modules = ModuleRegistry(pm)

    from core.pki.signers import configure_signer

    configure_signer(config)

    config.include("pyramid_services")
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".html")
    config.add_jinja2_search_path("templates:", name=".html")
    config.add_translation_dirs("core:locale")
    config.registry.cjs_clock = utcnow
    config.include("core.db")
    config.include("core.mail")
    config.include("core.hours")
    config.include("core.security")
    config.include("core.modules")
    config.include("core.web")
    config.registry.cjs_modules.configure_routes(config)
    return config


def make_app(
    settings: Mapping[str, Any], plugins: Iterable[object] = ()
) -> ClientCertificateMiddleware:
    """Build the WSGI application from a settings mapping (tests and ``cjs serve`` use this).

    The client-certificate middleware wraps the router; ``app.registry`` is the router's registry.
    """
    router = make_config(settings, plugins).make_wsgi_app()
    return ClientCertificateMiddleware(router, router.registry.settings["cjs.proxy.trusted"])


def close_app(app: ClientCertificateMiddleware) -> None:
    """Stop the app's background threads and close its database connections (stop, tests).

    The CRL worker first writes what it was asked for; the mail sender stops (what it had not sent
    stays in the outbox for the next sender).
    """
    from core import mail

    mail.stop_sender(app.registry)
    app.registry.cjs_crl_worker.stop()
    app.registry.cjs_engine.dispose()


def main(global_config: Mapping[str, Any] | None, **settings: Any) -> ClientCertificateMiddleware:
    """PasteDeploy entry point: ``use = egg:cjs``."""
    return make_app(settings)

"""CJS core: the application factory and the domains every service module relies on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from pyramid.config import Configurator

from core import i18n, mail
from core.clock import set_clock, utcnow
from core.db import get_engine
from core.modules import configure_module_routes
from core.pki.crl import publication_worker_of
from core.pki.signers import configure_signer
from core.plugins import install_plugins, load_plugins
from core.security import guard
from core.security.client_cert import ClientCertificateMiddleware
from core.settings import ConfigurationError

__all__ = ["ConfigurationError", "close_app", "main", "make_app", "make_config"]


#: The applications the factory builds from the same plugins, settings and domain services.
APP_KINDS = ("customer", "staff")


class CompiledTemplates(BytecodeCache):
    """Compiled templates kept in this process, shared by the applications built in it with the
    same Jinja2 settings (the demo's two listeners, the test suite's many apps): each template is
    compiled once, not once per application. Jinja2 checks each entry against its template's
    source, so a changed template is compiled again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` from an earlier compilation, if any."""
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep ``bucket``'s fresh compilation."""
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED: dict[frozenset[tuple[str, str]], CompiledTemplates] = {}


def _compiled_templates(settings: Mapping[str, Any]) -> CompiledTemplates:
    """The process's compiled templates for these Jinja2 settings (other settings, other code)."""
    jinja = frozenset((k, repr(v)) for k, v in settings.items() if k.startswith("jinja2."))
    return _COMPILED.setdefault(jinja, CompiledTemplates())


def make_config(
    settings: Mapping[str, Any], plugins: Iterable[object] = (), kind: str = "customer"
) -> Configurator:
    """Validate ``settings`` and build the configurator of the ``kind`` application.

    Both kinds share the composition below the screens: plugins and their settings, the signer,
    the database, mail, templates (the core's and each module's own folder). Then each gets its own
    security policy, view derivers and routes: the customer app its certificate-bound sessions,
    service hours, module guard, screens and module routes; the staff app (``core.staff``) its
    staff identity and the modules' staff screens, and none of the customer's.

    ``plugins`` are extra plugin objects registered beside the installed ones (tests use it).
    Raises :class:`ConfigurationError` with one line naming a bad setting.
    """
    if kind not in APP_KINDS:
        raise ValueError(f"kind must be one of {', '.join(APP_KINDS)}, got {kind!r}")
    loaded = load_plugins(settings, plugins)
    parsed = loaded.settings
    parsed.setdefault("pyramid.default_locale_name", i18n.DEFAULT_LOCALE)
    parsed.setdefault("jinja2.i18n.domain", i18n.DOMAIN)
    parsed.setdefault("jinja2.i18n.gettext", i18n.TemplateGettext)
    parsed.setdefault("jinja2.finalize", i18n.finalize)
    parsed.setdefault("jinja2.undefined", "strict")
    parsed.setdefault("jinja2.bytecode_caching", _compiled_templates(parsed))
    config = Configurator(settings=parsed)
    install_plugins(config.registry, loaded.manager, loaded.modules)

    configure_signer(config)

    config.include("pyramid_services")
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".html")
    config.add_jinja2_search_path("templates:", name=".html")
    for folder in loaded.modules.template_folders.values():
        config.add_jinja2_search_path(folder, name=".html")
    config.include("core.timefmt")
    config.add_translation_dirs("core:locale")
    set_clock(config.registry, utcnow)
    config.include("core.security.guard")
    config.include("core.db")
    config.include("core.mail")
    if kind == "staff":
        config.include("core.staff")
        return config
    config.include("core.hours")
    config.include("core.security")
    config.include("core.auth")
    config.include("core.accounts")
    config.include("core.modules")
    config.include("core.web")
    configure_module_routes(config)
    return config


def make_app(
    settings: Mapping[str, Any], plugins: Iterable[object] = (), kind: str = "customer"
) -> guard.RequestGuard:
    """Build the ``kind`` WSGI application from a settings mapping (tests and ``cjs serve``).

    Outermost the request guard (hostile input, size limits, the app's own public host: #12, #14),
    then the
    client-certificate middleware, then the router; ``app.registry`` is the router's registry.
    """
    router = make_config(settings, plugins, kind).make_wsgi_app()
    registry = router.registry
    certificates = ClientCertificateMiddleware(router, registry.settings["cjs.proxy.trusted"])
    url_setting = "cjs.staff.service_url" if kind == "staff" else "cjs.service_url"
    return guard.wrap(certificates, registry, url_setting)


def close_app(app: guard.RequestGuard) -> None:
    """Stop the app's background threads and close its database connections (stop, tests).

    The CRL worker first writes what it was asked for; the mail sender stops (what it had not sent
    stays in the outbox for the next sender).
    """
    mail.stop_sender(app.registry)
    crl_worker = publication_worker_of(app.registry)
    if crl_worker is not None:
        crl_worker.stop()
    get_engine(app.registry).dispose()


def main(global_config: Mapping[str, Any] | None, **settings: Any) -> guard.RequestGuard:
    """PasteDeploy entry point: ``use = egg:cjs``."""
    return make_app(settings)

"""CJS core: the domains every service module relies on, one package each (docs/architecture.md).

The application factory is :mod:`core.app`; the plugin API is :mod:`core.hookspecs`.
"""

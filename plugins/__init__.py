"""Service modules (SPEC section 6): one package per module, each a ``cjs.modules`` plugin.

Each package declares its module here; its screens, data, outputs and exports arrive with the
module's own issue.
"""

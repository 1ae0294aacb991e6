"""Authentication steps (AUTH-8), each a ``cjs.auth_backends`` plugin: the client certificate, the
password with lockout, the emailed code and the contract's initial password. Flows compose them by
configuration (``cjs.pipeline.<flow>``)."""

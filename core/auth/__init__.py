"""Authentication (AUTH-): flows and their pipelines of steps, passwords and lockout."""

from portal.webhooks import bp  # noqa: F401

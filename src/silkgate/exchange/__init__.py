"""The platform's one delivery mechanism: a transactional outbox, signed webhooks with retries
and dead letters, and a server-sent event stream per organization."""

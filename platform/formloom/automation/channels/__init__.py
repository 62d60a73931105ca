"""Delivery channels: in-app notifications (exactly once), email and webhooks
(at least once, with an idempotency key sent along)."""


class DeliveryError(Exception):
    """A delivery failed; `permanent` says whether retrying could help."""

    permanent = False


class TemporaryError(DeliveryError):
    """Worth retrying later (timeouts, connection errors, SMTP 4xx, HTTP 5xx/408/429)."""


class PermanentError(DeliveryError):
    """Retrying will not help (SMTP 5xx, HTTP 4xx, a refused address)."""

    permanent = True

"""Tidings for Python servers: trigger notifications and manage one
environment with its secret key (:class:`Tidings`, :class:`AsyncTidings`),
sign subscriber tokens and hashes offline, and verify webhook signatures.

    from tidings import Tidings
    tidings = Tidings(secret_key=os.environ["TIDINGS_SECRET_KEY"], api_url=os.environ["TIDINGS_API_URL"])
    tidings.trigger({"workflow": "welcome", "to": ["user-1"], "payload": {"name": "Ada"}})
"""

from ._client import AsyncTidings, Tidings
from ._errors import TidingsError
from ._operations import OPERATIONS
from ._signing import sign_subscriber_token, sign_webhook, subscriber_hash, verify_webhook
from ._transport import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "AsyncTidings",
    "OPERATIONS",
    "RetryPolicy",
    "Tidings",
    "TidingsError",
    "sign_subscriber_token",
    "sign_webhook",
    "subscriber_hash",
    "verify_webhook",
]

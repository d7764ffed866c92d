"""What a server signs and checks offline: subscriber tokens, subscriber
hashes and webhook signatures, byte for byte as the worker does
(``tests/vectors/signing.json`` holds the outputs every implementation must
reproduce)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time
from typing import Optional, Union

from ._errors import TidingsError

#: The longest token lifetime: 30 days.
MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600
#: How far a webhook's timestamp may be from now by default: 5 minutes.
DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300

_DERIVATION_SALT = b"tidings key derivation v1"
_TOKEN_LABEL = b"tidings/subscriber-token/v2"
_ENVIRONMENT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
_SUBSCRIBER_ID = re.compile(r"[A-Za-z0-9._\-@:+]{1,128}")
_KEY_ID = re.compile(r"s[1-9][0-9]{0,9}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def _invalid(field: str, message: str) -> TidingsError:
    return TidingsError("invalid_options", message, field=field)


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _check_subscriber_id(subscriber_id: object, field: str = "subscriber_id") -> str:
    if not isinstance(subscriber_id, str) or not _SUBSCRIBER_ID.fullmatch(subscriber_id):
        raise _invalid(field, f"{field} must be 1 to 128 characters of A-Z, a-z, 0-9 and . _ - @ : +")
    return subscriber_id


def _check_secret(secret: object, field: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise _invalid(field, f"{field} is required")
    return secret.encode("utf-8")


def derive_key(secret: bytes, label: bytes) -> bytes:
    """The 32-byte key a secret gives for one purpose: HKDF-SHA256 with one
    output block, ``HMAC(HMAC(salt, secret), label || 0x01)``."""
    return _hmac(_hmac(_DERIVATION_SALT, secret), label + b"\x01")


def sign_subscriber_token(
    *,
    signing_secret: str,
    environment: str,
    subscriber_id: str,
    ttl_seconds: int = 3600,
    scope: str = "write",
    key_id: str = "s1",
    now: Optional[float] = None,
) -> str:
    """Signs a subscriber token (``st2.…``) for a browser. ``now`` is Unix
    seconds (default: the current time). Raises :class:`TidingsError`
    (``invalid_options``)."""
    secret = _check_secret(signing_secret, "signing_secret")
    if not isinstance(environment, str) or not _ENVIRONMENT_NAME.fullmatch(environment):
        raise _invalid(
            "environment", "environment must be 1 to 32 characters of a-z, 0-9 and -, not starting or ending with -"
        )
    _check_subscriber_id(subscriber_id)
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or not 1 <= ttl_seconds <= MAX_TOKEN_TTL_SECONDS:
        raise _invalid("ttl_seconds", f"ttl_seconds must be a whole number from 1 to {MAX_TOKEN_TTL_SECONDS} (30 days)")
    if scope not in ("read", "write"):
        raise _invalid("scope", 'scope must be "read" or "write"')
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise _invalid("key_id", "key_id must be s1, s2, …")
    if now is not None and (isinstance(now, bool) or not isinstance(now, (int, float)) or not 0 <= now < 1e12):
        raise _invalid("now", "now must be Unix seconds")
    issued_at = int(time.time() if now is None else now)
    claims = {"env": environment, "exp": issued_at + ttl_seconds, "iat": issued_at, "kid": key_id, "scope": scope, "sub": subscriber_id}
    encoded = json.dumps(claims, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    body = f"st2.{_base64url(encoded)}"
    return f"{body}.{_base64url(_hmac(derive_key(secret, _TOKEN_LABEL), body.encode('ascii')))}"


def subscriber_hash(signing_secret: str, subscriber_id: str) -> str:
    """The subscriber hash (``X-Subscriber-Hash``): hex HMAC-SHA256 of the
    subscriber id, keyed with the signing secret as written (the ASCII of its
    hex characters). Prefer tokens: they expire and carry a scope."""
    secret = _check_secret(signing_secret, "signing_secret")
    return _hmac(secret, _check_subscriber_id(subscriber_id).encode("ascii")).hex()


def _signed_content(timestamp: Union[int, str], body: Union[str, bytes]) -> bytes:
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return f"{timestamp}.".encode("ascii") + raw


def sign_webhook(*, body: Union[str, bytes], secret: str, timestamp: int) -> str:
    """The ``Tidings-Signature`` Tidings would send for ``body`` at
    ``timestamp`` (Unix seconds): for testing a webhook handler."""
    key = _check_secret(secret, "secret")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp < 10**12:
        raise _invalid("timestamp", "timestamp must be Unix seconds")
    if not isinstance(body, (str, bytes, bytearray)):
        raise _invalid("body", "body must be the raw body (str or bytes)")
    return f"t={timestamp},v1={_hmac(key, _signed_content(timestamp, body)).hex()}"


def verify_webhook(
    *,
    body: Union[str, bytes],
    signature: Optional[str],
    secret: str,
    tolerance_seconds: float = DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
    now: Optional[float] = None,
) -> bool:
    """Whether a webhook request came from Tidings: ``signature`` is its
    ``Tidings-Signature`` header, ``body`` the raw request body exactly as
    received, ``secret`` the integration's signing secret. The HMAC is
    compared in constant time and the timestamp must be within
    ``tolerance_seconds`` of ``now`` (Unix seconds) either way. A missing or
    malformed header gives ``False``, never an exception."""
    key = _check_secret(secret, "secret")
    if not isinstance(body, (str, bytes, bytearray)):
        raise _invalid("body", "body must be the raw request body (str or bytes)")
    if isinstance(tolerance_seconds, bool) or not isinstance(tolerance_seconds, (int, float)) or not math.isfinite(tolerance_seconds) or tolerance_seconds < 0:
        raise _invalid("tolerance_seconds", "tolerance_seconds must be a finite number of seconds ≥ 0")
    if now is not None and (isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now)):
        raise _invalid("now", "now must be Unix seconds")
    if not isinstance(signature, str):
        return False
    timestamp: Optional[str] = None
    candidates = []
    for part in signature.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = value
        elif name == "v1" and _SIGNATURE.fullmatch(value):
            candidates.append(bytes.fromhex(value))
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        return False
    expected = _hmac(key, _signed_content(timestamp, body))
    matched = False
    for candidate in candidates:
        matched = hmac.compare_digest(expected, candidate) or matched
    return matched

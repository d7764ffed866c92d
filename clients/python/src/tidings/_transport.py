"""What the sync and async clients share: building a request from an
operation, reading an answer, and deciding whether and when to retry."""

from __future__ import annotations

import email.utils
import json
import math
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode, urlsplit

import httpx

from ._errors import TidingsError
from ._operations import BINARY_ANSWERS, OPERATIONS

_SECRET_KEY = re.compile(r"sk_[\x21-\x7e]+")


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a request again. ``max_retries`` extra attempts; a
    ``Retry-After`` longer than ``max_retry_delay_seconds`` is not waited out
    (the error is raised with its ``retry_after``); without one, backoff
    starts at ``base_retry_delay_seconds`` and doubles, with jitter."""

    max_retries: int = 3
    max_retry_delay_seconds: float = 30.0
    base_retry_delay_seconds: float = 0.25

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise TidingsError("invalid_options", "max_retries must be a whole number ≥ 0", field="max_retries")
        for name in ("max_retry_delay_seconds", "base_retry_delay_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise TidingsError("invalid_options", f"{name} must be a finite number ≥ 0", field=name)


def retryable(status: Optional[int], code: Optional[str], repeatable: bool) -> bool:
    """Whether an answer may be waited out and the request sent again: a spent
    rate limit (nothing was done), a trigger still running under the same
    idempotency key, or a 503 or lost answer when repeating cannot act twice."""
    if status == 429:
        return True
    if status == 409:
        return code == "request_in_progress"
    if status == 503 or status is None:
        return repeatable
    return False


def retry_delay_seconds(
    attempt: int, retry_after: Optional[int], base: float = 0.25, rand: Any = random.random
) -> float:
    """How long to wait before attempt ``attempt + 1``: the API's
    ``Retry-After`` when it gave one, else exponential backoff with jitter."""
    if retry_after is not None:
        return float(retry_after)
    return base * 2**attempt * (0.5 + rand() / 2)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[int]:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,12}", value):
        return int(value)
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0, int(-(-(parsed.timestamp() - current) // 1)))


@dataclass
class PreparedRequest:
    """One operation, ready to send (and send again)."""

    operation_id: str
    method: str
    url: str
    # Never in a repr: it carries the secret key, and error trackers record locals.
    headers: Dict[str, str] = field(repr=False)
    content: Optional[bytes]
    repeatable: bool
    binary: bool = field(default=False)


def check_options(secret_key: object, api_url: object) -> Tuple[str, str]:
    """Validates a client's key and URL; returns them normalized."""
    if not isinstance(secret_key, str) or not _SECRET_KEY.fullmatch(secret_key):
        raise TidingsError("invalid_options", "secret_key must be a secret key (sk_…)", field="secret_key")
    try:
        parts = urlsplit(api_url) if isinstance(api_url, str) else None
        _ = parts.port if parts else None
    except ValueError:
        parts = None
    if (
        parts is None
        or any(ord(character) < 0x21 or ord(character) == 0x7F for character in str(api_url))
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise TidingsError(
            "invalid_options", "api_url must be an absolute http(s) URL without query, fragment or credentials", field="api_url"
        )
    return secret_key, api_url.rstrip("/")


def expand_path(template: str, params: Optional[Mapping[str, str]]) -> str:
    """The path of an operation with its parameters filled in. Each parameter
    stays inside its own segment(s): a file path keeps its slashes, and no
    segment may be empty, ``.`` or ``..``, which URL handling would collapse
    into another route (``files.delete("../subscribers/x")``)."""

    def replace(match: "re.Match[str]") -> str:
        name = match.group(1)
        value = (params or {}).get(name)
        segments = (value.split("/") if name == "path" else [value]) if isinstance(value, str) else [""]
        if any(segment in ("", ".", "..") for segment in segments):
            raise TidingsError("invalid_options", f"{name} must be a non-empty value with no empty, . or .. segment", field=name)
        return "/".join(quote(segment, safe="") for segment in segments)

    return re.sub(r"\{(\w+)\}", replace, template)


def query_string(query: Optional[Mapping[str, Any]]) -> str:
    """A query string: lists of plain values comma-separated (``tags``),
    dicts and lists of dicts as JSON (``filters``)."""
    pairs = []
    for name, value in (query or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (list, tuple)) and not any(isinstance(item, (dict, list, tuple)) for item in value):
            text = ",".join(str(item) for item in value)
        elif isinstance(value, (dict, list, tuple)):
            text = json.dumps(value, separators=(",", ":"))
        else:
            text = str(value)
        pairs.append((name, text))
    return f"?{urlencode(pairs)}" if pairs else ""


def prepare(
    secret_key: str,
    api_url: str,
    operation_id: str,
    *,
    params: Optional[Mapping[str, str]] = None,
    query: Optional[Mapping[str, Any]] = None,
    body: Any = None,
    content_type: Optional[str] = None,
    idempotency_key: Optional[str] = None,
) -> PreparedRequest:
    """Builds the request for one operation by its openapi.json ``operationId``."""
    if operation_id not in OPERATIONS:
        raise TidingsError("invalid_options", f"unknown operation {operation_id}")
    method, template, repeatable = OPERATIONS[operation_id]
    headers = {"Authorization": f"Bearer {secret_key}", "Accept": "application/json"}
    content: Optional[bytes] = None
    if isinstance(body, (bytes, bytearray)):
        content = bytes(body)
        headers["Content-Type"] = content_type or "application/octet-stream"
    elif body is not None:
        try:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            raise TidingsError("invalid_options", f"the body cannot be sent as JSON: {error}", field="body") from None
        headers["Content-Type"] = "application/json"
    # Triggers and feed actions are always keyed, so sending one again never acts twice.
    if idempotency_key is None and operation_id in ("trigger", "triggerBulk", "feedActions"):
        idempotency_key = str(uuid.uuid4())
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str) or not re.fullmatch(r"[\x21-\x7e]{1,255}", idempotency_key):
            raise TidingsError(
                "invalid_options", "idempotency_key must be 1 to 255 printable ASCII characters", field="idempotency_key"
            )
        headers["Idempotency-Key"] = idempotency_key
    return PreparedRequest(
        operation_id=operation_id,
        method=method,
        url=f"{api_url}{expand_path(template, params)}{query_string(query)}",
        headers=headers,
        content=content,
        repeatable=repeatable,
        binary=operation_id in BINARY_ANSWERS,
    )


def network_error(request: PreparedRequest, cause: BaseException) -> TidingsError:
    """The error for a request that got no answer (the key never appears in it)."""
    origin = urlsplit(request.url)
    return TidingsError("network_error", f"could not reach {origin.scheme}://{origin.netloc}: {type(cause).__name__}")


def read_answer(request: PreparedRequest, response: httpx.Response) -> Union[Any, TidingsError]:
    """The answer's value, or the TidingsError it amounts to."""
    if response.is_success and request.binary:
        return {"body": response.content, "content_type": response.headers.get("content-type", "")}
    try:
        parsed = response.json() if response.content else None
        is_json = True
    except ValueError:
        parsed, is_json = None, False
    if response.is_success:
        if not is_json:
            return TidingsError("unexpected_response", "the API answered with something that is not JSON", status=response.status_code)
        return parsed
    detail = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(detail, dict) or not isinstance(detail.get("code"), str) or not isinstance(detail.get("message"), str):
        return TidingsError(
            "unexpected_response", f"HTTP {response.status_code} without an error body", status=response.status_code
        )
    return TidingsError(
        detail["code"],
        detail["message"],
        status=response.status_code,
        field=detail.get("field"),
        details=detail.get("details"),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def next_delay(policy: RetryPolicy, request: PreparedRequest, error: TidingsError, attempt: int) -> Optional[float]:
    """Seconds to wait before sending ``request`` again, or None to raise ``error``."""
    if attempt >= policy.max_retries or not retryable(error.status, error.code, request.repeatable):
        return None
    delay = retry_delay_seconds(attempt, error.retry_after, policy.base_retry_delay_seconds)
    return None if delay > policy.max_retry_delay_seconds else delay

"""The one error type of the client."""

from __future__ import annotations

from typing import Any, Optional


class TidingsError(Exception):
    """A failure with the API's stable ``code`` (or the client's own:
    ``network_error``, ``unexpected_response``, ``invalid_options``), the HTTP
    ``status`` when the API answered, the request ``field`` at fault, the
    error's structured ``details`` and ``retry_after`` (seconds) when the API
    asked to wait."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: Optional[int] = None,
        field: Optional[str] = None,
        details: Any = None,
        retry_after: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.details = details
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"TidingsError(code={self.code!r}, status={self.status!r}, message={self.message!r})"

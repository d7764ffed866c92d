"""The two clients: :class:`Tidings` (blocking) and :class:`AsyncTidings`
(asyncio). Both take one environment's secret key and cover every
secret-key operation, retrying where it is safe."""

from __future__ import annotations

import asyncio
import time
from typing import Any, List, Optional

import httpx

from . import _resources as resources
from ._errors import TidingsError
from ._transport import RetryPolicy, check_options, network_error, next_delay, prepare, read_answer
from ._types import TriggerRequest

DEFAULT_TIMEOUT_SECONDS = 30.0


class _Base:
    def __init__(self, secret_key: str, api_url: str, retry: Optional[RetryPolicy]) -> None:
        self._secret_key, self._api_url = check_options(secret_key, api_url)
        self._retry = retry or RetryPolicy()
        self.subscribers = resources.Subscribers(self.request)
        self.feed = resources.Feed(self.request)
        self.workflows = resources.Workflows(self.request)
        self.variables = resources.Variables(self.request)
        self.integrations = resources.Integrations(self.request)
        self.preferences = resources.Preferences(self.request)
        self.brand = resources.Brand(self.request)
        self.logs = resources.Logs(self.request)
        self.deliveries = resources.Deliveries(self.request)
        self.files = resources.Files(self.request)
        self.topics = resources.Topics(self.request)
        self.transactions = resources.Transactions(self.request)

    def request(self, operation_id: str, **options: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def trigger(self, event: TriggerRequest, *, idempotency_key: Optional[str] = None) -> Any:
        """Triggers a workflow: ``{workflow, to, payload?, actor?, tenant?}``. An
        ``Idempotency-Key`` is always sent (yours, or a fresh one per call), so
        retries never notify twice. Answers the 202 body."""
        return self.request("trigger", body=event, idempotency_key=idempotency_key)

    def trigger_bulk(self, events: List[TriggerRequest], *, idempotency_key: Optional[str] = None) -> Any:
        """Up to 100 triggers in one request; one result per event, in order."""
        return self.request("triggerBulk", body={"events": events}, idempotency_key=idempotency_key)

    def environment(self) -> Any:
        """The environment the key belongs to: ``{name, type, …}``."""
        return self.request("currentEnvironment")


class Tidings(_Base):
    """A blocking client for one environment's secret-key API. Methods answer
    the API's JSON (``dict``) or raise :class:`TidingsError`."""

    def __init__(
        self,
        secret_key: str,
        api_url: str,
        *,
        retry: Optional[RetryPolicy] = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        super().__init__(secret_key, api_url, retry)
        self._http = http_client or httpx.Client(timeout=timeout)

    def request(self, operation_id: str, **options: Any) -> Any:
        """Calls one operation by its openapi.json ``operationId``: ``params``
        fill the path, ``query`` the query string, ``body`` is sent as JSON (or
        as is when it is bytes, with ``content_type``)."""
        prepared = prepare(self._secret_key, self._api_url, operation_id, **options)
        attempt = 0
        while True:
            try:
                response = self._http.request(prepared.method, prepared.url, headers=prepared.headers, content=prepared.content)
                answer = read_answer(prepared, response)
            except (httpx.TransportError, httpx.DecodingError) as cause:
                answer = network_error(prepared, cause)
            if not isinstance(answer, TidingsError):
                return answer
            delay = next_delay(self._retry, prepared, answer, attempt)
            if delay is None:
                raise answer
            time.sleep(delay)
            attempt += 1

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Tidings":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


class AsyncTidings(_Base):
    """The asyncio client: the same methods as :class:`Tidings`, awaited."""

    def __init__(
        self,
        secret_key: str,
        api_url: str,
        *,
        retry: Optional[RetryPolicy] = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        super().__init__(secret_key, api_url, retry)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)

    async def request(self, operation_id: str, **options: Any) -> Any:  # type: ignore[override]
        """As :meth:`Tidings.request`, awaited."""
        prepared = prepare(self._secret_key, self._api_url, operation_id, **options)
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    prepared.method, prepared.url, headers=prepared.headers, content=prepared.content
                )
                answer = read_answer(prepared, response)
            except (httpx.TransportError, httpx.DecodingError) as cause:
                answer = network_error(prepared, cause)
            if not isinstance(answer, TidingsError):
                return answer
            delay = next_delay(self._retry, prepared, answer, attempt)
            if delay is None:
                raise answer
            await asyncio.sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncTidings":
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.aclose()


__all__ = ["Tidings", "AsyncTidings"]

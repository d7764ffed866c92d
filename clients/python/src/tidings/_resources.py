"""The API's resources, written once for both clients: each method names
its operation and hands it to the client's ``request``, which answers a
value (:class:`tidings.Tidings`) or an awaitable (:class:`tidings.AsyncTidings`)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional

from ._types import IntegrationInput, SubscriberInput, WorkflowInput

Request = Callable[..., Any]


class _Resource:
    def __init__(self, request: Request) -> None:
        self._request = request


class Subscribers(_Resource):
    """Subscribers, their preferences and their tokens."""

    def list(self, *, limit: Optional[int] = None, after: Optional[str] = None) -> Any:
        return self._request("listSubscribers", query={"limit": limit, "after": after})

    def get(self, subscriber_id: str) -> Any:
        return self._request("getSubscriber", params={"subscriber_id": subscriber_id})

    def upsert(self, subscriber_id: str, profile: Optional[SubscriberInput] = None) -> Any:
        return self._request("upsertSubscriber", params={"subscriber_id": subscriber_id}, body=dict(profile or {}))

    def bulk_upsert(self, subscribers: List[SubscriberInput]) -> Any:
        return self._request("bulkUpsertSubscribers", body={"subscribers": subscribers})

    def delete(self, subscriber_id: str) -> Any:
        return self._request("deleteSubscriber", params={"subscriber_id": subscriber_id})

    def get_preferences(self, subscriber_id: str) -> Any:
        return self._request("getPreferences", params={"subscriber_id": subscriber_id})

    def update_preferences(self, subscriber_id: str, patch: Mapping[str, Any]) -> Any:
        return self._request("updatePreferences", params={"subscriber_id": subscriber_id}, body=dict(patch))

    def mint_token(self, subscriber_id: str, *, ttl_seconds: Optional[int] = None, scope: Optional[str] = None) -> Any:
        """Mints a subscriber token through the API: ``{token, expires_at, scope}``."""
        body = {name: value for name, value in (("ttl_seconds", ttl_seconds), ("scope", scope)) if value is not None}
        return self._request("mintSubscriberToken", params={"subscriber_id": subscriber_id}, body=body)

    def revoke_tokens(self, subscriber_id: str) -> Any:
        return self._request("revokeSubscriberTokens", params={"subscriber_id": subscriber_id})


class Feed(_Resource):
    """A subscriber's feed, read and changed with the secret key."""

    def list(self, subscriber_id: str, **query: Any) -> Any:
        return self._request("feed", params={"subscriber_id": subscriber_id}, query=query)

    def counts(self, subscriber_id: str, **query: Any) -> Any:
        return self._request("feedCounts", params={"subscriber_id": subscriber_id}, query=query)

    def changes(self, subscriber_id: str, since: str, **query: Any) -> Any:
        return self._request("feedChanges", params={"subscriber_id": subscriber_id}, query={**query, "since": since})

    def act(self, subscriber_id: str, action: Mapping[str, Any], *, idempotency_key: Optional[str] = None) -> Any:
        """Applies an action once: always sent with an Idempotency-Key (yours, or a fresh one)."""
        return self._request(
            "feedActions", params={"subscriber_id": subscriber_id}, body=dict(action), idempotency_key=idempotency_key
        )

    def stream_ticket(self, subscriber_id: str) -> Any:
        return self._request("feedStreamTicket", params={"subscriber_id": subscriber_id})


class Workflows(_Resource):
    """Workflows and their versions."""

    def list(self) -> Any:
        return self._request("listWorkflows")

    def get(self, key: str) -> Any:
        return self._request("getWorkflow", params={"key": key})

    def create(self, workflow: WorkflowInput) -> Any:
        return self._request("createWorkflow", body=workflow)

    def save(self, key: str, workflow: WorkflowInput) -> Any:
        return self._request("saveWorkflow", params={"key": key}, body=workflow)

    def delete(self, key: str) -> Any:
        return self._request("deleteWorkflow", params={"key": key})

    def versions(self, key: str) -> Any:
        return self._request("listWorkflowVersions", params={"key": key})


class Variables(_Resource):
    """Environment variables templates read."""

    def list(self) -> Any:
        return self._request("listVariables")

    def get(self, name: str) -> Any:
        return self._request("getVariable", params={"variable_name": name})

    def put(self, name: str, value: Optional[str]) -> Any:
        return self._request("putVariable", params={"variable_name": name}, body={"value": value})

    def delete(self, name: str) -> Any:
        return self._request("deleteVariable", params={"variable_name": name})


class Integrations(_Resource):
    """Webhook integrations (their signing secrets are never returned)."""

    def list(self) -> Any:
        return self._request("listIntegrations")

    def get(self, integration_id: str) -> Any:
        return self._request("getIntegration", params={"integration_id": integration_id})

    def create(self, integration: IntegrationInput) -> Any:
        return self._request("createIntegration", body=integration)

    def save(self, integration_id: str, integration: IntegrationInput) -> Any:
        return self._request("saveIntegration", params={"integration_id": integration_id}, body=integration)

    def delete(self, integration_id: str) -> Any:
        return self._request("deleteIntegration", params={"integration_id": integration_id})


class Preferences(_Resource):
    """The environment's default preferences."""

    def get_defaults(self) -> Any:
        return self._request("getPreferenceDefaults")

    def put_defaults(self, preferences: Mapping[str, Any]) -> Any:
        return self._request("putPreferenceDefaults", body=dict(preferences))


class Brand(_Resource):
    """The environment's brand and logo."""

    def get(self) -> Any:
        return self._request("getBrand")

    def put(self, brand: Mapping[str, Any]) -> Any:
        return self._request("putBrand", body=dict(brand))

    def get_logo(self) -> Any:
        return self._request("getLogo")

    def put_logo(self, content: bytes, content_type: str) -> Any:
        return self._request("putLogo", body=content, content_type=content_type)


class Logs(_Resource):
    """The environment's activity log."""

    def list(self, **query: Any) -> Any:
        return self._request("listLogs", query=query)


class Deliveries(_Resource):
    """Webhook deliveries: list, inspect, replay."""

    def list(self, **query: Any) -> Any:
        return self._request("listDeliveries", query=query)

    def get(self, delivery_id: str) -> Any:
        return self._request("getDelivery", params={"delivery_id": delivery_id})

    def replay(self, delivery_id: str) -> Any:
        return self._request("replayDelivery", params={"delivery_id": delivery_id})

    def replay_many(self, **filter: Any) -> Any:
        return self._request("replayDeliveries", body=filter)


class Topics(_Resource):
    """Topics: groups of subscribers a trigger can address (``to=[{"topic": key}]``)."""

    def list(self, *, limit: Optional[int] = None, after: Optional[str] = None) -> Any:
        return self._request("listTopics", query={"limit": limit, "after": after})

    def get(self, key: str) -> Any:
        return self._request("getTopic", params={"topic_key": key})

    def put(self, key: str, *, name: Optional[str] = None) -> Any:
        return self._request("putTopic", params={"topic_key": key}, body={"name": name})

    def delete(self, key: str) -> Any:
        return self._request("deleteTopic", params={"topic_key": key})

    def members(self, key: str, *, limit: Optional[int] = None, after: Optional[str] = None) -> Any:
        return self._request("listTopicMembers", params={"topic_key": key}, query={"limit": limit, "after": after})

    def add_members(self, key: str, subscriber_ids: List[str]) -> Any:
        return self._request("addTopicMembers", params={"topic_key": key}, body={"subscribers": subscriber_ids})

    def remove_members(self, key: str, subscriber_ids: List[str]) -> Any:
        return self._request("removeTopicMembers", params={"topic_key": key}, body={"subscribers": subscriber_ids})


class Transactions(_Resource):
    """Where a trigger stands (a fan-out to topics: its progress)."""

    def get(self, transaction_id: str) -> Any:
        return self._request("getTransaction", params={"transaction_id": transaction_id})


class Files(_Resource):
    """The environment's files."""

    def list(self, **query: Any) -> Any:
        return self._request("listFiles", query=query)

    def sign_urls(self, paths: List[str], ttl_seconds: Optional[int] = None) -> Any:
        body: Dict[str, Any] = {"paths": paths}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        return self._request("signFileUrls", body=body)

    def put(self, path: str, content: bytes, content_type: str) -> Any:
        return self._request("putFile", params={"path": path}, body=content, content_type=content_type)

    def get(self, path: str) -> Any:
        return self._request("getFile", params={"path": path})

    def delete(self, path: str) -> Any:
        return self._request("deleteFile", params={"path": path})

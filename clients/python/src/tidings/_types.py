"""The API's JSON shapes, as the worker serializes them (the Rust wire types
in ``tidings_core::wire``; ``openapi.json`` describes every one). Answers
are plain ``dict``s typed with these."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

JSON = Any


class SubscriberInput(TypedDict, total=False):
    """A subscriber's profile to create or replace."""

    subscriber_id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    avatar: str
    locale: str
    timezone: str
    data: Dict[str, JSON]


#: A recipient: a subscriber id, or a profile (with ``subscriber_id``) upserted first.
Recipient = Union[str, SubscriberInput]


class _TriggerRequired(TypedDict):
    workflow: str
    to: Union[str, List[Recipient]]


class TriggerRequest(_TriggerRequired, total=False):
    """``POST /v1/events/trigger``."""

    payload: Dict[str, JSON]
    actor: Dict[str, JSON]
    tenant: str


class TriggeredMessage(TypedDict):
    id: str
    subscriber_id: str


class TriggeredDelivery(TypedDict):
    id: str
    subscriber_id: str
    integration: str


class TriggerResponse(TypedDict):
    """The 202 answer of a trigger, sent once every message is stored."""

    transaction_id: str
    status: str
    messages: List[TriggeredMessage]
    created_subscribers: List[str]
    deliveries: List[TriggeredDelivery]


class BulkTriggerResult(TypedDict):
    status: int
    replay: bool
    body: JSON


class BulkTriggerResponse(TypedDict):
    results: List[BulkTriggerResult]


class Subscriber(TypedDict):
    subscriber_id: str
    first_name: Optional[str]
    last_name: Optional[str]
    email: Optional[str]
    phone: Optional[str]
    avatar: Optional[str]
    locale: Optional[str]
    timezone: Optional[str]
    data: JSON
    created_at: str
    updated_at: str


class TokenResponse(TypedDict):
    """A subscriber token minted by the API."""

    token: str
    expires_at: str
    scope: Literal["read", "write"]


class _InAppRequired(TypedDict):
    type: Literal["in_app"]
    subject: str
    body: str


class InAppStep(_InAppRequired, total=False):
    avatar: str
    actions: List[Dict[str, str]]
    attachments: List[str]


class WebhookStep(TypedDict):
    type: Literal["webhook"]
    integration: str
    body: str


class _WorkflowRequired(TypedDict):
    name: str
    steps: List[Union[InAppStep, WebhookStep]]


class WorkflowInput(_WorkflowRequired, total=False):
    """A workflow definition to save."""

    key: str
    description: str
    tags: List[str]
    category: str
    payload_schema: Dict[str, JSON]


class IntegrationInput(TypedDict, total=False):
    """A webhook integration to create or save."""

    id: str
    kind: Literal["webhook"]
    name: str
    url: str
    signing_secret: str


class FileBody(TypedDict):
    """A file's bytes as the API answered them."""

    body: bytes
    content_type: str

"""Every secret-key operation of the API (openapi.json `operationId`s) with
its method, path and whether repeating it is harmless. The client calls
nothing else; the tests check this table against openapi.json."""

from __future__ import annotations

from typing import Dict, FrozenSet, Tuple

#: `operation_id: (method, path template, repeatable)`. `repeatable` marks a
#: POST that may be sent again after a lost answer or a 503 without doing
#: anything twice (GET, PUT, PATCH and DELETE always may; a trigger may
#: because the client always sends an `Idempotency-Key`).
OPERATIONS: Dict[str, Tuple[str, str, bool]] = {
    "currentEnvironment": ("GET", "/v1/environments/current", False),
    "trigger": ("POST", "/v1/events/trigger", True),
    "triggerBulk": ("POST", "/v1/events/trigger/bulk", True),
    "listSubscribers": ("GET", "/v1/subscribers", False),
    "bulkUpsertSubscribers": ("POST", "/v1/subscribers/bulk", True),
    "upsertSubscriber": ("PUT", "/v1/subscribers/{subscriber_id}", False),
    "getSubscriber": ("GET", "/v1/subscribers/{subscriber_id}", False),
    "deleteSubscriber": ("DELETE", "/v1/subscribers/{subscriber_id}", False),
    "getPreferences": ("GET", "/v1/subscribers/{subscriber_id}/preferences", False),
    "updatePreferences": ("PATCH", "/v1/subscribers/{subscriber_id}/preferences", False),
    "mintSubscriberToken": ("POST", "/v1/subscribers/{subscriber_id}/token", True),
    "revokeSubscriberTokens": ("DELETE", "/v1/subscribers/{subscriber_id}/token", False),
    "feed": ("GET", "/v1/subscribers/{subscriber_id}/feed", False),
    "feedCounts": ("GET", "/v1/subscribers/{subscriber_id}/feed/counts", False),
    "feedChanges": ("GET", "/v1/subscribers/{subscriber_id}/feed/changes", False),
    "feedActions": ("POST", "/v1/subscribers/{subscriber_id}/feed/actions", True),
    "feedStreamTicket": ("POST", "/v1/subscribers/{subscriber_id}/feed/stream-ticket", True),
    "listWorkflows": ("GET", "/v1/workflows", False),
    "createWorkflow": ("POST", "/v1/workflows", False),
    "getWorkflow": ("GET", "/v1/workflows/{key}", False),
    "saveWorkflow": ("PUT", "/v1/workflows/{key}", False),
    "deleteWorkflow": ("DELETE", "/v1/workflows/{key}", False),
    "listWorkflowVersions": ("GET", "/v1/workflows/{key}/versions", False),
    "listVariables": ("GET", "/v1/variables", False),
    "getVariable": ("GET", "/v1/variables/{variable_name}", False),
    "putVariable": ("PUT", "/v1/variables/{variable_name}", False),
    "deleteVariable": ("DELETE", "/v1/variables/{variable_name}", False),
    "listIntegrations": ("GET", "/v1/integrations", False),
    "createIntegration": ("POST", "/v1/integrations", False),
    "getIntegration": ("GET", "/v1/integrations/{integration_id}", False),
    "saveIntegration": ("PUT", "/v1/integrations/{integration_id}", False),
    "deleteIntegration": ("DELETE", "/v1/integrations/{integration_id}", False),
    "getPreferenceDefaults": ("GET", "/v1/preferences/defaults", False),
    "putPreferenceDefaults": ("PUT", "/v1/preferences/defaults", False),
    "getBrand": ("GET", "/v1/brand", False),
    "putBrand": ("PUT", "/v1/brand", False),
    "getLogo": ("GET", "/v1/brand/logo", False),
    "putLogo": ("PUT", "/v1/brand/logo", False),
    "listLogs": ("GET", "/v1/logs", False),
    "listDeliveries": ("GET", "/v1/deliveries", False),
    "getDelivery": ("GET", "/v1/deliveries/{delivery_id}", False),
    "replayDelivery": ("POST", "/v1/deliveries/{delivery_id}/replay", True),
    "replayDeliveries": ("POST", "/v1/deliveries/replay", True),
    "listFiles": ("GET", "/v1/files", False),
    "signFileUrls": ("POST", "/v1/files/urls", True),
    "putFile": ("PUT", "/v1/files/{path}", False),
    "getFile": ("GET", "/v1/files/{path}", False),
    "deleteFile": ("DELETE", "/v1/files/{path}", False),
}

#: Operations whose answer is the bytes of a file, whatever its type.
BINARY_ANSWERS: FrozenSet[str] = frozenset({"getFile", "getLogo"})

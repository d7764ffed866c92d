"""Every secret-key operation of the API (openapi.json `operationId`s) with
its method, path and whether repeating it is harmless. The client calls
nothing else; the tests check this table against openapi.json."""

from __future__ import annotations

from typing import Dict, FrozenSet, Tuple

#: `operation_id: (method, path template, repeatable)`: whether the request may
#: be sent again after a lost answer or a 503 without doing anything twice
#: (not a create, a replay or a workflow save, which makes a version; a
#: trigger may, because the client always sends an `Idempotency-Key`).
OPERATIONS: Dict[str, Tuple[str, str, bool]] = {
    "currentEnvironment": ("GET", "/v1/environments/current", True),
    "trigger": ("POST", "/v1/events/trigger", True),
    "triggerBulk": ("POST", "/v1/events/trigger/bulk", True),
    "listSubscribers": ("GET", "/v1/subscribers", True),
    "bulkUpsertSubscribers": ("POST", "/v1/subscribers/bulk", True),
    "upsertSubscriber": ("PUT", "/v1/subscribers/{subscriber_id}", True),
    "getSubscriber": ("GET", "/v1/subscribers/{subscriber_id}", True),
    "deleteSubscriber": ("DELETE", "/v1/subscribers/{subscriber_id}", True),
    "getPreferences": ("GET", "/v1/subscribers/{subscriber_id}/preferences", True),
    "updatePreferences": ("PATCH", "/v1/subscribers/{subscriber_id}/preferences", True),
    "mintSubscriberToken": ("POST", "/v1/subscribers/{subscriber_id}/token", True),
    "revokeSubscriberTokens": ("DELETE", "/v1/subscribers/{subscriber_id}/token", True),
    "feed": ("GET", "/v1/subscribers/{subscriber_id}/feed", True),
    "feedCounts": ("GET", "/v1/subscribers/{subscriber_id}/feed/counts", True),
    "feedChanges": ("GET", "/v1/subscribers/{subscriber_id}/feed/changes", True),
    "feedActions": ("POST", "/v1/subscribers/{subscriber_id}/feed/actions", True),
    "feedStreamTicket": ("POST", "/v1/subscribers/{subscriber_id}/feed/stream-ticket", True),
    "listWorkflows": ("GET", "/v1/workflows", True),
    "createWorkflow": ("POST", "/v1/workflows", False),
    "getWorkflow": ("GET", "/v1/workflows/{key}", True),
    "saveWorkflow": ("PUT", "/v1/workflows/{key}", False),
    "deleteWorkflow": ("DELETE", "/v1/workflows/{key}", True),
    "listWorkflowVersions": ("GET", "/v1/workflows/{key}/versions", True),
    "listVariables": ("GET", "/v1/variables", True),
    "getVariable": ("GET", "/v1/variables/{variable_name}", True),
    "putVariable": ("PUT", "/v1/variables/{variable_name}", True),
    "deleteVariable": ("DELETE", "/v1/variables/{variable_name}", True),
    "listIntegrations": ("GET", "/v1/integrations", True),
    "createIntegration": ("POST", "/v1/integrations", False),
    "getIntegration": ("GET", "/v1/integrations/{integration_id}", True),
    "saveIntegration": ("PUT", "/v1/integrations/{integration_id}", True),
    "deleteIntegration": ("DELETE", "/v1/integrations/{integration_id}", True),
    "getPreferenceDefaults": ("GET", "/v1/preferences/defaults", True),
    "putPreferenceDefaults": ("PUT", "/v1/preferences/defaults", True),
    "getBrand": ("GET", "/v1/brand", True),
    "putBrand": ("PUT", "/v1/brand", True),
    "getLogo": ("GET", "/v1/brand/logo", True),
    "putLogo": ("PUT", "/v1/brand/logo", True),
    "listLogs": ("GET", "/v1/logs", True),
    "listDeliveries": ("GET", "/v1/deliveries", True),
    "getDelivery": ("GET", "/v1/deliveries/{delivery_id}", True),
    "replayDelivery": ("POST", "/v1/deliveries/{delivery_id}/replay", False),
    "replayDeliveries": ("POST", "/v1/deliveries/replay", False),
    "listFiles": ("GET", "/v1/files", True),
    "signFileUrls": ("POST", "/v1/files/urls", True),
    "putFile": ("PUT", "/v1/files/{path}", True),
    "getFile": ("GET", "/v1/files/{path}", True),
    "deleteFile": ("DELETE", "/v1/files/{path}", True),
    "listTopics": ("GET", "/v1/topics", True),
    "getTopic": ("GET", "/v1/topics/{topic_key}", True),
    "putTopic": ("PUT", "/v1/topics/{topic_key}", True),
    "deleteTopic": ("DELETE", "/v1/topics/{topic_key}", True),
    "listTopicMembers": ("GET", "/v1/topics/{topic_key}/subscribers", True),
    "addTopicMembers": ("POST", "/v1/topics/{topic_key}/subscribers", True),
    "removeTopicMembers": ("DELETE", "/v1/topics/{topic_key}/subscribers", True),
    "getTransaction": ("GET", "/v1/transactions/{transaction_id}", True),
}

#: Operations whose answer is the bytes of a file, whatever its type.
BINARY_ANSWERS: FrozenSet[str] = frozenset({"getFile", "getLogo"})

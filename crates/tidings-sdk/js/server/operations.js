// Every secret-key operation of the API (openapi.json `operationId`s), with
// its method, path and whether repeating it is harmless. The client calls
// nothing else; tests/server-clients.test.mjs checks this table against
// openapi.json, so an operation added there must be added here.

/**
 * `operationId: [method, path template, repeatable]`: whether the request
 * may be sent again after a lost answer or a 503 without doing anything
 * twice. GET, PUT, PATCH and DELETE may unless marked `false` (saving a
 * workflow makes a new version each time); a POST may only when marked
 * `true` (a trigger or a feed action, because the client always sends an
 * `Idempotency-Key` with those: `KEYED`; adding topic members, which adds
 * each once however often it is sent).
 */
export const OPERATIONS = {
  currentEnvironment: ["GET", "/v1/environments/current"],
  trigger: ["POST", "/v1/events/trigger", true],
  triggerBulk: ["POST", "/v1/events/trigger/bulk", true],
  listSubscribers: ["GET", "/v1/subscribers"],
  bulkUpsertSubscribers: ["POST", "/v1/subscribers/bulk", true],
  upsertSubscriber: ["PUT", "/v1/subscribers/{subscriber_id}"],
  getSubscriber: ["GET", "/v1/subscribers/{subscriber_id}"],
  deleteSubscriber: ["DELETE", "/v1/subscribers/{subscriber_id}"],
  getPreferences: ["GET", "/v1/subscribers/{subscriber_id}/preferences"],
  updatePreferences: ["PATCH", "/v1/subscribers/{subscriber_id}/preferences"],
  mintSubscriberToken: ["POST", "/v1/subscribers/{subscriber_id}/token", true],
  revokeSubscriberTokens: ["DELETE", "/v1/subscribers/{subscriber_id}/token"],
  feed: ["GET", "/v1/subscribers/{subscriber_id}/feed"],
  feedCounts: ["GET", "/v1/subscribers/{subscriber_id}/feed/counts"],
  feedChanges: ["GET", "/v1/subscribers/{subscriber_id}/feed/changes"],
  feedActions: ["POST", "/v1/subscribers/{subscriber_id}/feed/actions", true],
  feedStreamTicket: ["POST", "/v1/subscribers/{subscriber_id}/feed/stream-ticket", true],
  listWorkflows: ["GET", "/v1/workflows"],
  createWorkflow: ["POST", "/v1/workflows", false],
  getWorkflow: ["GET", "/v1/workflows/{key}"],
  saveWorkflow: ["PUT", "/v1/workflows/{key}", false],
  deleteWorkflow: ["DELETE", "/v1/workflows/{key}"],
  listWorkflowVersions: ["GET", "/v1/workflows/{key}/versions"],
  listVariables: ["GET", "/v1/variables"],
  getVariable: ["GET", "/v1/variables/{variable_name}"],
  putVariable: ["PUT", "/v1/variables/{variable_name}"],
  deleteVariable: ["DELETE", "/v1/variables/{variable_name}"],
  listIntegrations: ["GET", "/v1/integrations"],
  createIntegration: ["POST", "/v1/integrations", false],
  getIntegration: ["GET", "/v1/integrations/{integration_id}"],
  saveIntegration: ["PUT", "/v1/integrations/{integration_id}"],
  deleteIntegration: ["DELETE", "/v1/integrations/{integration_id}"],
  getPreferenceDefaults: ["GET", "/v1/preferences/defaults"],
  putPreferenceDefaults: ["PUT", "/v1/preferences/defaults"],
  getBrand: ["GET", "/v1/brand"],
  putBrand: ["PUT", "/v1/brand"],
  getLogo: ["GET", "/v1/brand/logo"],
  putLogo: ["PUT", "/v1/brand/logo"],
  listLogs: ["GET", "/v1/logs"],
  listDeliveries: ["GET", "/v1/deliveries"],
  getDelivery: ["GET", "/v1/deliveries/{delivery_id}"],
  replayDelivery: ["POST", "/v1/deliveries/{delivery_id}/replay", false],
  replayDeliveries: ["POST", "/v1/deliveries/replay", false],
  listFiles: ["GET", "/v1/files"],
  signFileUrls: ["POST", "/v1/files/urls", true],
  putFile: ["PUT", "/v1/files/{path}"],
  getFile: ["GET", "/v1/files/{path}"],
  deleteFile: ["DELETE", "/v1/files/{path}"],
  listTopics: ["GET", "/v1/topics"],
  getTopic: ["GET", "/v1/topics/{topic_key}"],
  putTopic: ["PUT", "/v1/topics/{topic_key}"],
  deleteTopic: ["DELETE", "/v1/topics/{topic_key}"],
  listTopicMembers: ["GET", "/v1/topics/{topic_key}/subscribers"],
  addTopicMembers: ["POST", "/v1/topics/{topic_key}/subscribers", true],
  removeTopicMembers: ["DELETE", "/v1/topics/{topic_key}/subscribers"],
  getTransaction: ["GET", "/v1/transactions/{transaction_id}"],
};

/** Operations whose answer is the bytes of a file, whatever its type. */
export const BINARY_ANSWERS = new Set(["getFile", "getLogo"]);

/** The operations always sent with an `Idempotency-Key` (the caller's, or a fresh one). */
export const KEYED = new Set(["trigger", "triggerBulk", "feedActions"]);

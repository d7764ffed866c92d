// The scanner that `npm test` runs over the worker log and every recorded
// answer (scripts/scan-secrets.mjs) finds what it must find.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { scanForSecrets } from "../scripts/scan-secrets.mjs";

const secretKey = `sk_staging_${"a".repeat(32)}bcdefg`;
const memberToken = `mt_${"b".repeat(52)}`;
const signingSecret = "c".repeat(64);

function scan({ log = "", exchanges = [] }) {
  const directory = mkdtempSync(join(tmpdir(), "scan-"));
  const files = { logFile: join(directory, "log"), recordFile: join(directory, "record"), keysFile: join(directory, "keys") };
  writeFileSync(files.keysFile, JSON.stringify({ environments: { staging: { secret_key: secretKey, subscriber_signing_secret: signingSecret } } }));
  writeFileSync(files.logFile, log);
  writeFileSync(files.recordFile, exchanges.map((exchange) => JSON.stringify({ status: 200, request: "", ...exchange }) + "\n").join(""));
  return () => scanForSecrets(files);
}

describe("secret scan", () => {
  it("passes a clean run, and key material in the answers that issue it", () => {
    const issued = { method: "POST", path: "/v1/members/m_1/tokens", response: JSON.stringify({ token: memberToken }) };
    assert.doesNotThrow(scan({ log: "GET /v1/workflows 200", exchanges: [issued, { method: "GET", path: "/v1/me", response: "{}" }] }));
  });

  it("finds a known secret in the worker log", () => {
    assert.throws(scan({ log: `debug: key ${secretKey}` }), /worker log shows sk_sta/);
  });

  it("finds a signing secret in an answer that does not issue it", () => {
    assert.throws(scan({ exchanges: [{ method: "GET", path: "/v1/environments/staging", response: `{"x":"${signingSecret}"}` }] }), /GET \/v1\/environments\/staging/);
  });

  it("finds a member token issued in one answer and shown by another", () => {
    const issued = { method: "POST", path: "/v1/members/m_1/tokens", response: JSON.stringify({ token: memberToken }) };
    const listed = { method: "GET", path: "/v1/members", response: JSON.stringify({ members: [{ note: memberToken }] }) };
    assert.throws(scan({ exchanges: [issued, listed] }), /GET \/v1\/members/);
  });

  it("finds an integration secret a request set, echoed by a read", () => {
    const set = { method: "PUT", path: "/v1/integrations/hook", request: JSON.stringify({ secret: "whsec_0123456789abcdef" }), response: "{}" };
    const read = { method: "GET", path: "/v1/integrations/hook", response: '{"secret":"whsec_0123456789abcdef"}' };
    assert.throws(scan({ exchanges: [set, read] }), /GET \/v1\/integrations\/hook/);
  });
});

// After the end-to-end tests: no key material may appear in the worker's log
// or in any API response but the one that issued it. Secrets are gathered
// from the run itself: the keys file, every answer of an issuing route, and
// every integration secret a test sent.
import { existsSync, readFileSync } from "node:fs";

/** Routes whose answers show key material, once, by design. */
const ISSUING = [
  /^POST \/v1\/bootstrap$/,
  /^POST \/v1\/environments$/,
  /^POST \/v1\/environments\/[^/]+\/signing-secret\/rotate$/,
  /^POST \/v1\/environments\/[^/]+\/keys$/,
  /^POST \/v1\/environments\/[^/]+\/keys\/[^/]+\/regenerate$/,
  /^POST \/v1\/members$/,
  /^POST \/v1\/members\/[^/]+\/tokens$/,
];
/** Secret keys and member tokens, wherever they appear. */
const PATTERNS = [/\bsk_[a-z0-9-]+_[0-9a-z]{20,}/g, /\bmt_[0-9a-z]{40,}/g];
/** Fields that hold a secret in requests and issuing answers. */
const SECRET_FIELDS = new Set(["secret", "secret_key", "subscriber_signing_secret", "token", "admin_token"]);

function collect(value, into) {
  if (typeof value === "string") {
    for (const pattern of PATTERNS) for (const match of value.matchAll(pattern)) into.add(match[0]);
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, into);
  } else if (value && typeof value === "object") {
    for (const [name, field] of Object.entries(value)) {
      if (SECRET_FIELDS.has(name) && typeof field === "string" && field.length >= 16) into.add(field);
      collect(field, into);
    }
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const mask = (secret) => `${secret.slice(0, 6)}…(${secret.length} characters)`;

/**
 * Scans `logFile` and the exchanges in `recordFile`; throws naming each
 * leak. Returns what was scanned.
 */
export function scanForSecrets({ logFile, recordFile, keysFile }) {
  const secrets = new Set();
  collect(JSON.parse(readFileSync(keysFile, "utf8")), secrets);
  const exchanges = existsSync(recordFile)
    ? readFileSync(recordFile, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line))
    : [];
  for (const exchange of exchanges) {
    collect(parse(exchange.request), secrets);
    if (ISSUING.some((route) => route.test(`${exchange.method} ${exchange.path}`))) collect(parse(exchange.response), secrets);
  }
  const leaks = [];
  const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
  for (const secret of secrets) {
    if (log.includes(secret)) leaks.push(`the worker log shows ${mask(secret)}`);
  }
  for (const exchange of exchanges) {
    const route = `${exchange.method} ${exchange.path}`;
    if (ISSUING.some((issuing) => issuing.test(route))) continue;
    for (const secret of secrets) {
      if (exchange.response.includes(secret)) leaks.push(`${route} (${exchange.status}) answered ${mask(secret)}`);
    }
  }
  if (leaks.length) throw new Error(`key material leaked:\n  ${[...new Set(leaks)].join("\n  ")}`);
  return { secrets: secrets.size, responses: exchanges.length, logBytes: log.length };
}

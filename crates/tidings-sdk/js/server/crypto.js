// SHA-256, HMAC-SHA256, HKDF-SHA256 (one block), hex, base64url and a
// constant-time comparison in plain JavaScript: synchronous, no `node:`
// import and no WebAssembly, so `@tidings/sdk/server` runs unchanged in
// Node.js, Cloudflare Workers, Deno, Bun and edge functions. The worker's
// own Rust code (tidings_core) is the reference; tests/vectors/signing.json
// holds outputs both must reproduce byte for byte.

const ROUND_CONSTANTS = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL_STATE = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const BLOCK_BYTES = 64;
const encoder = new TextEncoder();

const rotateRight = (word, bits) => (word >>> bits) | (word << (32 - bits));

/** UTF-8 bytes of a string (bytes pass through). */
export function utf8(text) {
  return typeof text === "string" ? encoder.encode(text) : text;
}

/** The SHA-256 digest (FIPS 180-4) of `bytes`. */
export function sha256(bytes) {
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / BLOCK_BYTES) * BLOCK_BYTES);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bytes.length / 0x20000000));
  view.setUint32(padded.length - 4, (bytes.length * 8) >>> 0);
  const state = new Uint32Array(INITIAL_STATE);
  const schedule = new Uint32Array(64);
  for (let offset = 0; offset < padded.length; offset += BLOCK_BYTES) {
    for (let index = 0; index < 16; index++) schedule[index] = view.getUint32(offset + index * 4);
    for (let index = 16; index < 64; index++) {
      const early = schedule[index - 15];
      const late = schedule[index - 2];
      const sigma0 = rotateRight(early, 7) ^ rotateRight(early, 18) ^ (early >>> 3);
      const sigma1 = rotateRight(late, 17) ^ rotateRight(late, 19) ^ (late >>> 10);
      schedule[index] = schedule[index - 16] + sigma0 + schedule[index - 7] + sigma1;
    }
    let [a, b, c, d, e, f, g, h] = state;
    for (let index = 0; index < 64; index++) {
      const sum1 = rotateRight(e, 6) ^ rotateRight(e, 11) ^ rotateRight(e, 25);
      const choose = (e & f) ^ (~e & g);
      const temp1 = (h + sum1 + choose + ROUND_CONSTANTS[index] + schedule[index]) | 0;
      const sum0 = rotateRight(a, 2) ^ rotateRight(a, 13) ^ rotateRight(a, 22);
      const majority = (a & b) ^ (a & c) ^ (b & c);
      const temp2 = (sum0 + majority) | 0;
      [h, g, f, e, d, c, b, a] = [g, f, e, (d + temp1) | 0, c, b, a, (temp1 + temp2) | 0];
    }
    const words = [a, b, c, d, e, f, g, h];
    for (let index = 0; index < 8; index++) state[index] += words[index];
  }
  const digest = new Uint8Array(32);
  const out = new DataView(digest.buffer);
  for (let index = 0; index < 8; index++) out.setUint32(index * 4, state[index]);
  return digest;
}

/** HMAC-SHA256 (RFC 2104) of `message` under `key` (strings are UTF-8). */
export function hmacSha256(key, message) {
  let keyBytes = utf8(key);
  if (keyBytes.length > BLOCK_BYTES) keyBytes = sha256(keyBytes);
  const inner = new Uint8Array(BLOCK_BYTES).fill(0x36);
  const outer = new Uint8Array(BLOCK_BYTES).fill(0x5c);
  keyBytes.forEach((byte, index) => {
    inner[index] ^= byte;
    outer[index] ^= byte;
  });
  const messageBytes = utf8(message);
  const innerInput = new Uint8Array(BLOCK_BYTES + messageBytes.length);
  innerInput.set(inner);
  innerInput.set(messageBytes, BLOCK_BYTES);
  const outerInput = new Uint8Array(BLOCK_BYTES + 32);
  outerInput.set(outer);
  outerInput.set(sha256(innerInput), BLOCK_BYTES);
  return sha256(outerInput);
}

/** The tidings key-derivation salt (tidings_core::derive). */
const DERIVATION_SALT = "tidings key derivation v1";

/**
 * The 32-byte key a secret gives for one purpose: HKDF-SHA256 with one
 * output block, `HMAC(HMAC(salt, secret), label || 0x01)`.
 */
export function deriveKey(secret, label) {
  const pseudoRandomKey = hmacSha256(DERIVATION_SALT, secret);
  const labelBytes = utf8(label);
  const info = new Uint8Array(labelBytes.length + 1);
  info.set(labelBytes);
  info[labelBytes.length] = 1;
  return hmacSha256(pseudoRandomKey, info);
}

/** Lower-case hex. */
export function toHex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Bytes of lower- or upper-case hex; null when `text` is not hex. */
export function fromHex(text) {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const bytes = new Uint8Array(text.length / 2);
  for (let index = 0; index < bytes.length; index++) bytes[index] = parseInt(text.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Base64url without padding (RFC 4648 §5). */
export function base64url(bytes) {
  let out = "";
  for (let offset = 0; offset < bytes.length; offset += 3) {
    const chunk = bytes.subarray(offset, offset + 3);
    const value = (chunk[0] << 16) | ((chunk[1] ?? 0) << 8) | (chunk[2] ?? 0);
    for (let index = 0; index <= chunk.length; index++) out += BASE64URL[(value >>> (18 - 6 * index)) & 63];
  }
  return out;
}

/** Whether two byte strings are equal, taking the same time wherever they differ. */
export function constantTimeEqual(left, right) {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index++) difference |= left[index] ^ right[index];
  return difference === 0;
}

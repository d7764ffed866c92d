// Where the worker keeps a subscriber's feed, computed the way it does
// (tidings_core::shard), so tests can pick recipients on every shard.
import { createHash } from "node:crypto";

/** A subscriber's bucket: SHA-256 of the id, first two bytes, mod 256. */
export const bucketOf = (id) => createHash("sha256").update(id).digest().readUInt16BE(0) % 256;

/** The shard of `shards` holding the feed of `id` while no move is under way. */
export const shardOf = (id, shards) => bucketOf(id) % shards;

/**
 * `perShard` subscriber ids `<prefix>-<n>` for each of `shards` shards (the
 * first ids that land there), in the order found.
 */
export function recipientsOnEveryShard(prefix, shards, perShard = 2) {
  const found = [];
  const counts = new Array(shards).fill(0);
  for (let index = 0; found.length < shards * perShard; index += 1) {
    const id = `${prefix}-${index}`;
    const shard = shardOf(id, shards);
    if (counts[shard] < perShard) {
      counts[shard] += 1;
      found.push(id);
    }
  }
  return found;
}

/** The first `count` subscriber ids `<prefix><n>` in `bucket`. */
export function idsInBucket(prefix, bucket, count) {
  const found = [];
  for (let index = 0; found.length < count; index += 1) {
    if (bucketOf(`${prefix}${index}`) === bucket) found.push(`${prefix}${index}`);
  }
  return found;
}

/**
 * Small bounded building blocks of the inbound assembler and its dedupe gate: the last ids seen, a
 * set that forgets its oldest entries, and the UTF-8 length of a string without encoding it.
 */
import { Buffer } from "node:buffer"

/**
 * UTF-8 length of a string, without encoding it. Node's native count (a lone surrogate counts as
 * the 3 bytes of the replacement character it would be sent as); a loop over the characters here
 * showed in the assembler's profile.
 */
export const utf8Length = (text: string): number => Buffer.byteLength(text, "utf8")

/**
 * A set that forgets its oldest entries beyond `capacity`.
 *
 * Gotchas: the oldest entry is found in a ring of the keys in insertion order, not with
 * `set.values().next()`: V8 leaves a deleted entry's slot in a Set until it rehashes, and
 * `values().next()` walks over every such slot, so with a full set each `add` cost a scan
 * (the echo bench's profile found it).
 */
export class RecentSet {
  private readonly entries = new Set<string>()
  private readonly order: Array<string> = []
  /** A number the owner gave with each key, in the same ring as `order`. */
  private readonly stamps: Array<number> = []
  /** Where the oldest key is in `order` once the ring is full. */
  private oldest = 0
  private forgotten = Number.NEGATIVE_INFINITY
  private readonly capacity: number
  constructor(capacity: number) {
    this.capacity = capacity
  }
  has(key: string) {
    return this.entries.has(key)
  }
  /** Adds `key`, with a `stamp` of the owner's choosing; false if it was already there. */
  add(key: string, stamp = 0): boolean {
    if (this.entries.has(key)) return false
    if (this.capacity <= 0) return true
    this.entries.add(key)
    if (this.order.length < this.capacity) {
      this.order.push(key)
      this.stamps.push(stamp)
      return true
    }
    this.entries.delete(this.order[this.oldest]!)
    this.forgotten = this.stamps[this.oldest]!
    this.order[this.oldest] = key
    this.stamps[this.oldest] = stamp
    this.oldest = (this.oldest + 1) % this.capacity
    return true
  }
  /** The stamp of the key forgotten last to make room; -Infinity while none was. */
  get lastForgottenStamp(): number {
    return this.forgotten
  }
  get size() {
    return this.entries.size
  }
}

/**
 * The last `capacity` ids, in the order they came, with their lookup built only when a lookup is
 * asked for. `record` remembers an id that is known not to repeat an earlier one (the common
 * inbound event: no hashing at all); `add` checks an id against the last `capacity`, and
 * remembers it if it is new.
 *
 * Gotchas: hashing a fresh id into a set for every inbound event showed in the inbound profile.
 * Now the ids recorded since the last `add` are hashed when that `add` comes, so a
 * server that sends only ordinary events never pays for it, and one that mixes in others pays,
 * over time, what it paid before. The lookup counts the copies of an id in the ring (a server
 * that reuses ids records one twice), so an id is found exactly while a copy of it is remembered.
 */
export class RecentIds {
  private readonly ring: Array<string> = []
  /** Ids recorded so far, in all; the ring holds the last `capacity` of them. */
  private written = 0
  /** The ids recorded before this count are in `index` (those still in the ring). */
  private indexedUpTo = 0
  /** Each id in the ring up to `indexedUpTo`, with how many copies of it are there. */
  private readonly index = new Map<string, number>()
  private readonly capacity: number
  constructor(capacity: number) {
    this.capacity = capacity
  }
  get size() {
    return Math.min(this.written, this.capacity)
  }
  /** Ids remembered so far, in all (a position in the order they came). */
  get recorded() {
    return this.written
  }
  /** Remembers `id`, known not to repeat one of the last `capacity`, without checking. */
  record(id: string): void {
    if (this.capacity <= 0) return
    const slot = this.written % this.capacity
    // The oldest id leaves the ring, and the lookup if it was there.
    if (this.written >= this.capacity && this.written - this.capacity < this.indexedUpTo) this.unindex(this.ring[slot]!)
    this.ring[slot] = id
    this.written++
  }
  /** Remembers `id`; false if it is one of the last `capacity`. */
  add(id: string): boolean {
    if (this.capacity <= 0) return true
    for (let w = Math.max(this.indexedUpTo, this.written - this.capacity); w < this.written; w++) {
      this.reindex(this.ring[w % this.capacity]!)
    }
    this.indexedUpTo = this.written
    if (this.index.has(id)) return false
    this.record(id)
    this.reindex(id)
    this.indexedUpTo = this.written
    return true
  }
  private reindex(id: string): void {
    this.index.set(id, (this.index.get(id) ?? 0) + 1)
  }
  private unindex(id: string): void {
    const copies = this.index.get(id)!
    if (copies <= 1) this.index.delete(id)
    else this.index.set(id, copies - 1)
  }
}

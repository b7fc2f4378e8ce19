/**
 * Small bounded building blocks of the inbound assembler: a set that forgets its oldest entries,
 * and the UTF-8 length of a string without encoding it.
 */
import { Buffer } from "node:buffer"

/**
 * UTF-8 length of a string, without encoding it. Node's native count (a lone surrogate counts as
 * the 3 bytes of the replacement character it would be sent as); a loop over the characters here
 * was 15 % of the assembler's time.
 */
export const utf8Length = (text: string): number => Buffer.byteLength(text, "utf8")

/**
 * A set that forgets its oldest entries beyond `capacity`.
 *
 * Gotchas: the oldest entry is found in a ring of the keys in insertion order, not with
 * `set.values().next()`: V8 leaves a deleted entry's slot in a Set until it rehashes, and
 * `values().next()` walks over every such slot, so with a full set each `add` cost a scan
 * (the echo bench's profile found it; 17 µs of every inbound frame).
 */
export class RecentSet {
  private readonly entries = new Set<string>()
  private readonly order: Array<string> = []
  /** Where the oldest key is in `order` once the ring is full. */
  private oldest = 0
  private readonly capacity: number
  constructor(capacity: number) {
    this.capacity = capacity
  }
  has(key: string) {
    return this.entries.has(key)
  }
  /** Adds `key`; false if it was already there. */
  add(key: string): boolean {
    if (this.entries.has(key)) return false
    if (this.capacity <= 0) return true
    this.entries.add(key)
    if (this.order.length < this.capacity) {
      this.order.push(key)
      return true
    }
    this.entries.delete(this.order[this.oldest]!)
    this.order[this.oldest] = key
    this.oldest = (this.oldest + 1) % this.capacity
    return true
  }
  get size() {
    return this.entries.size
  }
}

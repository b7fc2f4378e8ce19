/**
 * Small bounded building blocks of the inbound assembler: a set that forgets its oldest entries,
 * and the UTF-8 length of a string without encoding it.
 */

/** UTF-8 length of a string, without allocating. */
export const utf8Length = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

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
  add(key: string) {
    if (this.capacity <= 0 || this.entries.has(key)) return
    this.entries.add(key)
    if (this.order.length < this.capacity) {
      this.order.push(key)
      return
    }
    this.entries.delete(this.order[this.oldest]!)
    this.order[this.oldest] = key
    this.oldest = (this.oldest + 1) % this.capacity
  }
  get size() {
    return this.entries.size
  }
}

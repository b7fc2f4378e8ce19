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

/** A set that forgets its oldest entries beyond `capacity`. */
export class RecentSet {
  private readonly entries = new Set<string>()
  private readonly capacity: number
  constructor(capacity: number) {
    this.capacity = capacity
  }
  has(key: string) {
    return this.entries.has(key)
  }
  add(key: string) {
    this.entries.add(key)
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.values().next().value!)
  }
  get size() {
    return this.entries.size
  }
}

/**
 * What the reference server keeps for one client identity (its `clientId`): the identity's links
 * and the user messages sent to it, for protocol v2's acknowledgements and redelivery
 * (docs/PROTOCOL.md §6–§7). No sockets and no timers: the server hands each link a `LinkSocket`
 * and says what happened (a hello, an ack, a v1 frame); the mailbox says what to write where,
 * through the server's writer (`DropSwitch`, which can cut a link mid-message for tests).
 *
 * - A link starts `awaiting`: a v2 client's first frame is its hello. A valid hello makes it `v2`;
 *   any other first frame makes it `v1` (as does a v1-only server, or a hello that never comes).
 * - The identity "speaks ack" from the first hello that agreed on `ack` until a link of it turns
 *   out not to. While it does, messages are kept until acknowledged (counted in `unacknowledged`),
 *   a new link receives nothing until its hello, and then every kept message, whole and in the
 *   order sent; a message sent while no link is ready waits in the mailbox.
 * - While it does not (the start, and after a v1 link), delivery is v1's: every ready link gets
 *   each frame as it is released, and nothing is redelivered. A message written to a link whose
 *   first frame has not come yet is kept, uncounted, until that link decides: a hello agreeing on
 *   `ack` makes it owed (so the hello racing the first message loses nothing), a v1 frame lets it go.
 * - A message may need features (`needs`: `groups` for group traffic, §6): its frames go only to
 *   links whose hello agreed on all of them — never to a v1 link or one still awaiting its hello.
 *   A kept message a new link cannot take waits, still owed, for one that can.
 *
 * Gotchas: one WebSocket per identity is the protocol's case; with several at once, the link that
 * decided last sets whether the identity speaks ack.
 *
 * @since 0.2.0
 */

/** What a link needs of its socket. */
export interface LinkSocket {
  readonly isOpen: () => boolean
  /** Writes one text frame; `done` runs once it is handed to the operating system (or failed). */
  readonly send: (text: string, done: () => void) => void
  /** Drops the link without a closing handshake. */
  readonly terminate: () => void
}

/** `awaiting` its first frame; then `v1` (no hello) or `v2` (hellos exchanged). */
export type LinkPhase = "awaiting" | "v1" | "v2"

/** One connection of a client. */
export class Link {
  phase: LinkPhase = "awaiting"
  /** The features both hellos agreed on (v2 only). */
  features: ReadonlyArray<string> = []
  closed = false
  /** Cut by the server's drop switch: nothing more is written to it. */
  cut = false
  /** User-message frames written since the drop switch was armed. */
  framesSinceArmed = 0
  readonly clientId: string
  readonly socket: LinkSocket
  constructor(clientId: string, socket: LinkSocket) {
    this.clientId = clientId
    this.socket = socket
  }
  /** True once both hellos listed `ack`. */
  get acks(): boolean {
    return this.phase === "v2" && this.features.includes("ack")
  }
  /** True when its hello agreed on every feature in `needs` (always, for none). */
  takes(needs: ReadonlyArray<string>): boolean {
    return needs.length === 0 || (this.phase === "v2" && needs.every((feature) => this.features.includes(feature)))
  }
}

/** Writes one frame to a link and calls `done` when it is out (the server's writer). */
export type Write = (link: Link, text: string, done: () => void) => void

/** One user message: its frames, how many of them have been released, who follows it. */
export interface Entry {
  readonly responseId: string
  readonly frames: ReadonlyArray<string>
  /** The features a link must have agreed on to be written this message. */
  readonly needs: ReadonlyArray<string>
  /** Frames `[0, released)` have gone out (to the links ready at the time, if any). */
  released: number
  /** Kept until acknowledged, and counted. */
  owed: boolean
  /** Links that were written every released frame, from the first. */
  readonly followers: Set<Link>
  /** Some frame was written to some link. */
  written: boolean
}

/** Uncounted messages kept for undecided links, at most (oldest let go first). */
export const MAX_UNDECIDED = 1000

export class Mailbox {
  /** The last link to decide agreed on `ack`. */
  speaksAck = false
  /** What the last link to decide agreed on: none for v1. */
  agreed: ReadonlyArray<string> = []
  readonly links = new Set<Link>()
  private readonly entries = new Map<string, Entry>()
  private owedCount = 0
  readonly clientId: string
  private readonly write: Write
  constructor(clientId: string, write: Write) {
    this.clientId = clientId
    this.write = write
  }

  /** Messages kept until the client acknowledges them. */
  get unacknowledged(): number {
    return this.owedCount
  }

  get openLinks(): number {
    return this.links.size
  }

  /** A link that is sent user messages as they are released. */
  isReady(link: Link): boolean {
    return !link.closed && (link.phase !== "awaiting" || !this.speaksAck)
  }

  /** True when some link would receive a message released now. */
  get hasReadyLink(): boolean {
    for (const link of this.links) if (this.isReady(link)) return true
    return false
  }

  join(link: Link): void {
    this.links.add(link)
  }

  leave(link: Link): void {
    link.closed = true
    this.links.delete(link)
  }

  /** A new user message, for links that agreed on `needs`; its frames go out with `release`. */
  add(responseId: string, frames: ReadonlyArray<string>, needs: ReadonlyArray<string> = []): Entry {
    const entry: Entry = { responseId, frames, needs, released: 0, owed: false, followers: new Set(), written: false }
    this.entries.set(responseId, entry)
    this.setOwed(entry, this.speaksAck)
    if (this.entries.size - this.owedCount > MAX_UNDECIDED) this.trimUndecided()
    return entry
  }

  /**
   * Releases the message's next frame to every ready link; `done` once all have it.
   * Gotchas: a message acknowledged before its last frame still goes out whole to ready links.
   */
  release(entry: Entry, done: () => void): void {
    if (entry.released >= entry.frames.length) return done()
    const frame = entry.frames[entry.released]!
    const first = entry.released === 0
    entry.released++
    const ready = [...this.links].filter((link) => this.isReady(link) && link.takes(entry.needs))
    if (first) for (const link of ready) entry.followers.add(link)
    entry.written ||= ready.length > 0
    writeAll(this.write, ready.map((link) => [link, frame]), done)
    if (entry.released === entry.frames.length) this.letGoIfTaken(entry, false)
  }

  /** Releases every frame left at once, back to back (`done` hears of the last one's write). */
  releaseAll(entry: Entry, done: () => void): void {
    while (entry.released < entry.frames.length - 1) this.release(entry, () => {})
    this.release(entry, done)
  }

  /** Writes one frame to every ready link that agreed on `needs`, keeping nothing (a v1 server's manual redelivery). */
  broadcast(frame: string, done: () => void, needs: ReadonlyArray<string> = []): void {
    writeAll(this.write, [...this.links].filter((link) => this.isReady(link) && link.takes(needs)).map((link) => [link, frame]), done)
  }

  /** Forgets a message its sender gave up on (v1: no link was left to take it). */
  abandon(entry: Entry): void {
    this.remove(entry)
  }

  /**
   * The link's hello agreed on `features`. With `ack`, every kept message becomes owed and those
   * this link has not followed from their first frame, and can take, are written to it, in the
   * order sent; their ids are returned. Call after writing the server's hello.
   */
  hello(link: Link, features: ReadonlyArray<string>): ReadonlyArray<string> {
    link.phase = "v2"
    link.features = features
    this.agreed = features
    if (!link.acks) {
      this.plain(link)
      return []
    }
    this.speaksAck = true
    const redelivered: Array<string> = []
    for (const entry of this.entries.values()) {
      this.setOwed(entry, true)
      if (entry.released === 0 || entry.followers.has(link) || !link.takes(entry.needs)) continue
      writeAll(this.write, entry.frames.slice(0, entry.released).map((frame) => [link, frame]), () => {})
      entry.followers.add(link)
      entry.written = true
      redelivered.push(entry.responseId)
    }
    return redelivered
  }

  /** The link's first frame was not a hello (or the server speaks v1): it is a v1 link. */
  v1(link: Link): void {
    link.phase = "v1"
    this.agreed = []
    this.plain(link)
  }

  /** The client took the message `responseId` (an ack on a link that agreed on `ack`). */
  ack(link: Link, responseId: string): boolean {
    const entry = this.entries.get(responseId)
    if (!link.acks || entry === undefined) return false
    this.remove(entry)
    return true
  }

  /**
   * A link decided without `ack`. If the identity spoke ack, it no longer does: messages never
   * written to any link are written to this one (as v1 would have on its arrival), and nothing
   * is redelivered any more. Messages kept for undecided links that closed are let go.
   */
  private plain(link: Link): void {
    if (this.speaksAck) {
      this.speaksAck = false
      for (const entry of this.entries.values()) {
        if (!entry.written && entry.released > 0 && link.takes(entry.needs)) {
          writeAll(this.write, entry.frames.slice(0, entry.released).map((frame) => [link, frame]), () => {})
          entry.followers.add(link)
          entry.written = true
        }
        this.setOwed(entry, false)
      }
    }
    for (const entry of [...this.entries.values()]) this.letGoIfTaken(entry, true)
  }

  /**
   * Lets go of an uncounted message once it is fully released and no follower may still prove
   * to speak ack: followers still awaiting their first frame keep it, and so do those that closed
   * before deciding, unless `closedDecided` (a link of the identity has decided since).
   */
  private letGoIfTaken(entry: Entry, closedDecided: boolean): void {
    if (entry.owed || entry.released < entry.frames.length) return
    for (const follower of entry.followers) {
      if (follower.phase === "awaiting" && (!follower.closed || !closedDecided)) return
    }
    this.remove(entry)
  }

  private trimUndecided(): void {
    for (const entry of this.entries.values()) {
      if (this.entries.size - this.owedCount <= MAX_UNDECIDED) return
      if (!entry.owed && entry.released === entry.frames.length) this.remove(entry)
    }
  }

  private setOwed(entry: Entry, owed: boolean): void {
    if (entry.owed !== owed) this.owedCount += owed ? 1 : -1
    entry.owed = owed
  }

  private remove(entry: Entry): void {
    if (this.entries.get(entry.responseId) !== entry) return
    this.setOwed(entry, false)
    this.entries.delete(entry.responseId)
  }
}

/**
 * The server's writer of user-message frames, with its drop switch: once armed with `frames`,
 * the first link to be written that many more is terminated right after the last is out (0: at
 * its next frame, unwritten), and the switch disarms.
 */
export class DropSwitch {
  private afterFrames: number | undefined
  arm(frames: number | undefined, links: Iterable<Link>): void {
    this.afterFrames = frames
    for (const link of links) link.framesSinceArmed = 0
  }
  readonly write: Write = (link, text, done) => {
    const limit = this.afterFrames
    if (link.cut || !link.socket.isOpen()) return done()
    if (limit === undefined || ++link.framesSinceArmed < limit) return link.socket.send(text, done)
    link.cut = true
    this.afterFrames = undefined
    if (limit === 0) {
      link.socket.terminate()
      return done()
    }
    link.socket.send(text, () => {
      link.socket.terminate()
      done()
    })
  }
}

/** Writes each `[link, frame]` in order; `done` once every write is out. */
const writeAll = (write: Write, writes: ReadonlyArray<readonly [Link, string]>, done: () => void): void => {
  let waiting = writes.length
  if (waiting === 0) return done()
  for (const [link, frame] of writes) {
    write(link, frame, () => {
      if (--waiting === 0) done()
    })
  }
}

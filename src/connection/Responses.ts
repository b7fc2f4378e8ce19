/**
 * Replies on their way out, across links: each reply is kept until a pong proves the server read
 * it — an answer as the note its frames can be made again from (`internal/replyJournal.ts`), any
 * other reply as its frames — and a new link gets every unconfirmed reply again, in the order they
 * were first written, before anything newer. `Connection.beginResponse` and `sendResponse` are built
 * on it (`src/Connection.ts`); the pongs are `Pings.ts`'s.
 */
import { Buffer } from "node:buffer"
import { Effect } from "effect"
import type { ConnectionError } from "../ConnectionError.ts"
import type { OutboundFrame, Replayable } from "../ReplyEncoder.ts"
import type { TextFrame } from "../WebSocketHandle.ts"
import type { Link } from "./Link.ts"

/**
 * One response being written (`Connection.beginResponse`, `beginAnswer`).
 *
 * Gotchas: its members are methods of one object; call them on it (`writer.write(…)`), never
 * detached (`Stream.runForEachArray(frames, writer.write)` loses the writer).
 */
export interface ResponseWriter {
  /**
   * Writes frames in order; waits up to `sendTimeout` for a connection like `sendResponse`. With
   * `replayable` (which makes every frame of the response so far again: `Protocol.writeReply`
   * gives one) the response is kept for a re-send as that, not as its frames.
   */
  write(frames: ReadonlyArray<OutboundFrame>, replayable?: Replayable): Effect.Effect<void, ConnectionError>
  /**
   * Returns once a pong after the last frame proves the server read them all. Until then, every
   * new link gets the response again (with the other unconfirmed ones, in order of their first
   * write). The writer may run it in the background and go on with the next response.
   */
  readonly finish: Effect.Effect<void, ConnectionError>
  /**
   * `finish` without a fiber, for a patient writer (`beginAnswer`): calls `done` once a pong
   * proves the server read the whole response, on this link or — re-sent — on a later one; never
   * if the connection closes first. Until then the response is only its note (or bytes) and this
   * callback: a burst's replies all wait for pongs queued behind the burst, and a suspended fiber
   * each held far more memory than the replies themselves. Not after `abandon`: an abandoned
   * response is never confirmed.
   */
  settle(done: () => void): void
  /** Gives the response up without `finish` (its writing failed): no new link gets it again. */
  readonly abandon: Effect.Effect<void>
}

export const makeResponses = (options: {
  /** The open link, if any. */
  readonly current: () => Link | undefined
  /** Waits for a link: up to `sendTimeout`, or, `patient`, for as long as it takes. */
  readonly awaitLink: (patient: boolean) => Effect.Effect<Link, ConnectionError>
}) => {
  /**
   * Responses written but not yet confirmed, in the order of their first write. A new link gets
   * all of them again, in that order, before anything else is written on it (`takeOver`): a drop
   * never reorders two replies, and nobody waits for a pong to write the next one.
   */
  const unconfirmed = new Set<Writer>()

  /** Asks `link` to confirm a settled response it has all of; a link that ends first leaves it to the next. */
  const confirmOn = (response: Writer, link: Link) =>
    link.confirmThen((confirmed) => {
      // Not confirmed: the link ended, and the next one gets the response again (`resendAll`).
      if (confirmed && unconfirmed.delete(response)) response.done?.()
    })

  const resendAll = (link: Link) =>
    Effect.suspend(() => {
      const frames: Array<TextFrame> = []
      for (const response of unconfirmed) {
        if (response.replayable === undefined) frames.push(...response.kept)
        else for (const frame of response.replayable.replay().slice(0, response.count)) frames.push(frame.json)
        response.writtenOn = link.generation
      }
      if (frames.length === 0) return Effect.void
      return Effect.andThen(
        Effect.logDebug(`Re-sending ${frames.length} frames of ${unconfirmed.size} responses cut off by a drop`),
        link.writeAll(frames)
      )
    })

  /**
   * Asks a link that has had every unconfirmed response again (`resendAll`) to confirm the settled
   * ones, which wait for no fiber. Run once the link is the current one: a response settled after
   * that asks the link itself, and one settled before is asked about here.
   */
  const confirmSettled = (link: Link) => {
    for (const response of unconfirmed) if (response.done !== undefined && response.writtenOn === link.generation) confirmOn(response, link)
  }

  /**
   * A response's writer, and the response while it is unconfirmed. A `patient` one (an answer to a
   * user message) waits for a link as long as it takes: given up after `sendTimeout`, the answer
   * would be lost, and with protocol v2 the server's redelivery of the message would then be taken
   * for one already answered. The connector's close bounds the wait.
   *
   * A class, not a record of closures: a burst keeps thousands of these until their pongs, and a
   * closure per method per response was most of what each one weighed.
   */
  class Writer implements ResponseWriter {
    /** How many frames were written so far. */
    count = 0
    /**
     * Every frame written so far made again, for a re-send on the next link
     * (`internal/replyJournal.ts`): a few hundred bytes of note where the frames are kilobytes.
     */
    replayable: Replayable | undefined = undefined
    /**
     * Without `replayable`, the frames themselves, as UTF-8 bytes outside V8's heap: kept as
     * strings, the frames of replies waiting for their pong survived young-generation collections
     * at such a rate that V8 grew its young generation to the maximum.
     */
    readonly kept: Array<Uint8Array> = []
    /** The link (its generation) that has all `count` frames. */
    writtenOn = -1
    /** Set by `settle`: called once the response is confirmed. */
    done: (() => void) | undefined = undefined
    private readonly awaitLink: Effect.Effect<Link, ConnectionError>

    constructor(awaitLink: Effect.Effect<Link, ConnectionError>) {
      this.awaitLink = awaitLink
    }

    private written(link: Link, batch: ReadonlyArray<TextFrame>) {
      this.writtenOn = link.generation
      this.count += batch.length
      if (this.replayable === undefined) for (const bytes of batch) this.kept.push(bytes as Uint8Array)
      if (batch.length > 0) unconfirmed.add(this)
    }

    /**
     * Writes `batch`; with `confirm`, also waits for proof of receipt. The common case — an open
     * link that has everything this response wrote before — is one write; anything else goes
     * round `deliverAgain`.
     */
    private deliver(batch: ReadonlyArray<TextFrame>, confirm: boolean): Effect.Effect<void, ConnectionError> {
      const link = options.current()
      if (link === undefined || (link.generation !== this.writtenOn && this.count > 0)) return this.deliverAgain(batch, confirm)
      // Most writes: the link takes the frames at once, with no effect of their own.
      if (!confirm && link.tryWriteAll(batch)) {
        this.written(link, batch)
        return Effect.void
      }
      return Effect.matchEffect(confirm ? Effect.andThen(link.writeAll(batch), link.confirm) : link.writeAll(batch), {
        onFailure: () => Effect.andThen(link.drop, this.deliverAgain(batch, confirm)),
        onSuccess: () => Effect.sync(() => this.written(link, batch))
      })
    }

    private deliverAgain(batch: ReadonlyArray<TextFrame>, confirm: boolean): Effect.Effect<void, ConnectionError> {
      const self = this
      return Effect.gen(function*() {
        while (true) {
          // A new link has already had this response's earlier frames again (`resendAll`).
          const link = options.current() ?? (yield* self.awaitLink)
          const delivered = yield* link.writeAll(batch).pipe(
            Effect.andThen(confirm ? link.confirm : Effect.void),
            Effect.as(true),
            Effect.catchTag("ConnectionError", () => Effect.succeed(false))
          )
          if (delivered) return self.written(link, batch)
          // The link broke under us: let it end; the next one gets everything again.
          yield* link.drop
        }
      })
    }

    write(frames: ReadonlyArray<OutboundFrame>, replayable?: Replayable): Effect.Effect<void, ConnectionError> {
      // An answer: its note stands for its frames, which go to ws as the strings they are.
      if (replayable !== undefined) {
        this.replayable = replayable
        return this.deliver(frames.map((frame) => frame.json), false)
      }
      return this.deliver(frames.map((frame) => Buffer.from(frame.json)), false)
    }

    // The last frames may have died with the link after leaving this machine: only a pong after
    // them proves the server read them. Until then the response can still be re-sent.
    get finish(): Effect.Effect<void, ConnectionError> {
      return Effect.suspend(() => this.count > 0 ? this.deliver([], true) : Effect.void).pipe(
        Effect.ensuring(Effect.sync(() => unconfirmed.delete(this)))
      )
    }

    settle(done: () => void): void {
      if (this.count === 0) return done()
      this.done = done
      const link = options.current()
      // No link, or a new one not yet published: that one is asked once it is (`confirmSettled`).
      if (link !== undefined && link.generation === this.writtenOn) confirmOn(this, link)
    }

    get abandon(): Effect.Effect<void> {
      return Effect.sync(() => {
        unconfirmed.delete(this)
      })
    }
  }

  const patientLink = options.awaitLink(true)
  const timelyLink = options.awaitLink(false)
  const begin = (patient: boolean) => Effect.sync((): ResponseWriter => new Writer(patient ? patientLink : timelyLink))

  /**
   * A new link takes over: every unconfirmed response goes out on it again, in order, before
   * `publish` makes it the current link (nothing newer goes first); then it is asked to confirm
   * the settled ones. A re-send that fails leaves it to the next link (this one is ending).
   */
  const takeOver = (link: Link, publish: Effect.Effect<void>) =>
    Effect.catchTag(resendAll(link), "ConnectionError", () => Effect.void).pipe(
      Effect.andThen(publish),
      Effect.andThen(Effect.sync(() => confirmSettled(link)))
    )

  return { beginResponse: begin(false), beginAnswer: begin(true), takeOver }
}

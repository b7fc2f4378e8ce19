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

/** One response being written (`Connection.beginResponse`). */
export interface ResponseWriter {
  /**
   * Writes frames in order; waits up to `sendTimeout` for a connection like `sendResponse`. With
   * `replayable` (which makes every frame of the response so far again: `Protocol.writeReply`
   * gives one) the response is kept for a re-send as that, not as its frames.
   */
  readonly write: (frames: ReadonlyArray<OutboundFrame>, replayable?: Replayable) => Effect.Effect<void, ConnectionError>
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
   * each held far more memory than the replies themselves.
   */
  readonly settle: (done: () => void) => void
  /** Gives the response up without `finish` (its writing failed): no new link gets it again. */
  readonly abandon: Effect.Effect<void>
}

/** A response written but not yet confirmed. */
interface Pending {
  /** How many frames were written so far. */
  count: number
  /**
   * Every frame written so far made again, for a re-send on the next link (`internal/replyJournal.ts`):
   * a few hundred bytes of note where the frames are kilobytes.
   */
  replayable: Replayable | undefined
  /**
   * Without `replayable`, the frames themselves, as UTF-8 bytes outside V8's heap: kept as strings,
   * the frames of replies waiting for their pong survived young-generation collections at such a
   * rate that V8 grew its young generation to the maximum.
   */
  readonly kept: Array<Uint8Array>
  /** The link (its generation) that has all `count` frames. */
  writtenOn: number
  /** Set by `settle`: called once the response is confirmed. */
  done: (() => void) | undefined
}

export const makeResponses = (options: {
  /** The open link, if any. */
  readonly current: () => Link | undefined
  /** Waits for a link: up to `sendTimeout`, or, `patient`, for as long as it takes. */
  readonly awaitLink: (patient: boolean) => Effect.Effect<Link, ConnectionError>
}) => {
  /**
   * Responses written but not yet confirmed, in the order of their first write. A new link gets
   * all of them again, in that order, before anything else is written on it (`Connection.ts` calls `resendAll` when a link opens): a
   * drop never reorders two replies, and nobody waits for a pong to write the next one.
   */
  const unconfirmed = new Set<Pending>()

  /** Asks `link` to confirm a settled response it has all of; a link that ends first leaves it to the next. */
  const confirmOn = (response: Pending, link: Link) =>
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
      ).pipe(Effect.andThen(Effect.sync(() => {
        // The settled ones wait for no fiber: this link is asked to confirm them.
        for (const response of unconfirmed) if (response.done !== undefined) confirmOn(response, link)
      })))
    })

  /**
   * A response's writer. A `patient` one (an answer to a user message) waits for a link as long as
   * it takes: given up after `sendTimeout`, the answer would be lost, and with protocol v2 the
   * server's redelivery of the message would then be taken for one already answered. The
   * connector's close bounds the wait.
   */
  const begin = (patient: boolean) => Effect.sync((): ResponseWriter => {
    const awaitLink = options.awaitLink(patient)
    const response: Pending = { count: 0, replayable: undefined, kept: [], writtenOn: -1, done: undefined }
    const written = (link: Link, batch: ReadonlyArray<TextFrame>) => {
      response.writtenOn = link.generation
      response.count += batch.length
      if (response.replayable === undefined) for (const bytes of batch) response.kept.push(bytes as Uint8Array)
      if (batch.length > 0) unconfirmed.add(response)
    }
    /**
     * Writes `batch`; with `confirm`, also waits for proof of receipt. The common case — an open
     * link that has everything this response wrote before — is one write; anything else goes
     * round `deliverAgain`.
     */
    const deliver = (batch: ReadonlyArray<TextFrame>, confirm: boolean): Effect.Effect<void, ConnectionError> => {
      const link = options.current()
      if (link === undefined || (link.generation !== response.writtenOn && response.count > 0)) return deliverAgain(batch, confirm)
      // Most writes: the link takes the frames at once, with no effect of their own.
      if (!confirm && link.tryWriteAll(batch)) {
        written(link, batch)
        return Effect.void
      }
      return Effect.matchEffect(confirm ? Effect.andThen(link.writeAll(batch), link.confirm) : link.writeAll(batch), {
        onFailure: () => Effect.andThen(link.drop, deliverAgain(batch, confirm)),
        onSuccess: () => Effect.sync(() => written(link, batch))
      })
    }
    const deliverAgain = (batch: ReadonlyArray<TextFrame>, confirm: boolean): Effect.Effect<void, ConnectionError> =>
      Effect.gen(function*() {
        while (true) {
          // A new link has already had this response's earlier frames again (`resendAll`).
          const link = options.current() ?? (yield* awaitLink)
          const delivered = yield* link.writeAll(batch).pipe(
            Effect.andThen(confirm ? link.confirm : Effect.void),
            Effect.as(true),
            Effect.catchTag("ConnectionError", () => Effect.succeed(false))
          )
          if (delivered) return written(link, batch)
          // The link broke under us: let it end; the next one gets everything again.
          yield* link.drop
        }
      })
    return {
      write: (frames, replayable) => {
        // An answer: its note stands for its frames, which go to ws as the strings they are.
        if (replayable !== undefined) {
          response.replayable = replayable
          return deliver(frames.map((frame) => frame.json), false)
        }
        return deliver(frames.map((frame) => Buffer.from(frame.json)), false)
      },
      // The last frames may have died with the link after leaving this machine: only a pong
      // after them proves the server read them. Until then the response can still be re-sent.
      finish: Effect.suspend(() => response.count > 0 ? deliver([], true) : Effect.void).pipe(
        Effect.ensuring(Effect.sync(() => unconfirmed.delete(response)))
      ),
      settle: (done) => {
        if (response.count === 0) return done()
        response.done = done
        const link = options.current()
        // No link, or a new one that has not had it again yet: `resendAll` asks that one.
        if (link !== undefined && link.generation === response.writtenOn) confirmOn(response, link)
      },
      abandon: Effect.sync(() => {
        unconfirmed.delete(response)
      })
    }
  })

  return { beginResponse: begin(false), beginAnswer: begin(true), resendAll }
}

/**
 * The InstaClaw wire protocol (`docs/PROTOCOL.md` §2–§5) as one service: the outbound encoder
 * that turns one reply into one streamed response (`ReplyEncoder.ts`), and the inbound assembler
 * that turns streamed events back into whole messages (`InboundAssembler.ts`), with the wire
 * schemas (`Wire.ts`). The namespace re-exports all three.
 *
 * Pure: no sockets and no timers. Time comes from Effect's `Clock`, ids from Effect's `Random`,
 * so a test with `TestClock` and a seeded `Random` sees the same frames every run.
 *
 * @since 0.1.0
 */
import { Array as Arr, Cause, Clock, Context, Effect, Layer, Random, Schema, Stream } from "effect"
import { ConnectorConfig } from "./Config.ts"
import { type AssemblerLimits, InboundAssembler } from "./InboundAssembler.ts"
import type { ReplyMedia } from "./Media.ts"
import { endFrames, piecesFrames, ReplyJournal } from "./internal/replyJournal.ts"
import { type OutboundFrame, type Replayable, ReplyEncoder, type ReplyEncoderOptions, type ReplyFailure, type ReplyPiece } from "./ReplyEncoder.ts"
import { defaults, type EventProfile } from "./Settings.ts"

// The protocol's parts, each a public module of its own, under one namespace.
export * from "./InboundAssembler.ts"
export * from "./ReplyEncoder.ts"
export * from "./Wire.ts"

// ---------------------------------------------------------------------------------------------
// Ids: `resp_…`, `item_…`, `evt_…`, `msg_<ms>_…` from Effect's Random (seed it in tests).
// ---------------------------------------------------------------------------------------------

/** A random token of 12 base-36 characters from Effect's `Random` (two draws of 6 characters). */
const sixChars = (r: number) => Math.floor(r * 36 ** 6).toString(36).padStart(6, "0")
export const randomToken: Effect.Effect<string> = Effect.flatMap(Random.next, (a) => Effect.map(Random.next, (b) => sixChars(a) + sixChars(b)))

// ---------------------------------------------------------------------------------------------
// The service.
// ---------------------------------------------------------------------------------------------

/** What `streamReply` needs to know about the reply. */
export interface ReplyOptions {
  readonly conversationId: string
  /** Maps a failure of the source to the `{ code, message }` sent in `response.failed`. */
  readonly describeFailure?: ((cause: Cause.Cause<unknown>) => ReplyFailure) | undefined
  /**
   * When a failure of the source means "stopped" (a user's `/stop`, a host abort), the reason:
   * the response then ends with `response.incomplete` instead of `response.failed`.
   */
  readonly describeStop?: ((cause: Cause.Cause<unknown>) => string | undefined) | undefined
  /** Runs when the source fails or is stopped, before the response's last frame is written (a log line, say). */
  readonly onSourceFailure?: ((cause: Cause.Cause<unknown>) => Effect.Effect<void>) | undefined
  /**
   * Decides how each medium of the reply goes out (§8.1): as it is, as a URL it uploaded, or as a
   * sentence in the text saying it could not be sent (`connector/Media.ts`). Absent: media go as
   * they are, bytes inline as a `data:` URL.
   */
  readonly resolveMedia?: ((media: ReplyMedia) => Effect.Effect<ReadonlyArray<ReplyPiece>>) | undefined
}

/** How a reply written by `writeReply` ended. */
export type ReplyOutcome =
  | { readonly _tag: "Completed" }
  /** The source ended without any text or media: the response ended with `response.failed` `empty_reply`. */
  | { readonly _tag: "Empty" }
  /** The source failed: `response.failed`. */
  | { readonly _tag: "Failed"; readonly cause: Cause.Cause<unknown> }
  /** The source was stopped (`describeStop` gave a reason): `response.incomplete`. */
  | { readonly _tag: "Stopped"; readonly reason: string }

/** The text was empty or whitespace only; nothing was sent (docs/PROTOCOL.md §5). */
export class EmptyMessageError extends Schema.TaggedError<EmptyMessageError>()("EmptyMessageError", {}) {
  override get message() {
    return "Cannot send empty message"
  }
}

/** The `response.failed` error when the agent's reply had no text at all. */
export const emptyReplyFailure: ReplyFailure = { code: "empty_reply", message: "The agent returned an empty reply." }

/** The default `response.failed` error: says something went wrong, and nothing more. */
export const genericFailure: ReplyFailure = { code: "server_error", message: "The agent could not produce a reply." }

export interface ProtocolSettings {
  /** Stream the agent's reasoning and tool steps as reasoning / function_call items (full profile only). */
  readonly progressEvents: boolean
  readonly deltaSize: number
  readonly eventProfile: EventProfile
  readonly model: string
  readonly limits: AssemblerLimits
}

export class Protocol extends Context.Service<Protocol, {
  readonly settings: ProtocolSettings
  /**
   * Turns a reply — a whole string or a stream of text pieces — into the frames of one Open
   * Responses response (§4), emitted as the pieces arrive. For a stream, created and in_progress
   * leave at once; a failing source ends the response with `response.failed`, an empty one with
   * `response.failed` `empty_reply`. Empty text (a string) fails with `EmptyMessageError` before
   * any frame.
   */
  readonly streamReply: <E = never, R = never>(
    options: ReplyOptions,
    text: string | Stream.Stream<ReplyPiece, E, R>
  ) => Stream.Stream<OutboundFrame, EmptyMessageError, R>
  /**
   * `streamReply` without the stream in between: encodes the reply's pieces as the agent produces
   * them and hands each batch of frames to `write` at once (the first batch, created and
   * in_progress, before the agent has a word). It never fails because the source did: a failing
   * source ends the response with `response.failed` or `response.incomplete`, and the outcome
   * says so. Only `write`'s failure fails it. The connector answers every message this way.
   */
  readonly writeReply: <E, R, E2, R2>(
    options: ReplyOptions,
    text: Stream.Stream<ReplyPiece, E, R>,
    /** `replayable.replay()` makes every frame of the reply so far again, the same bytes (for a re-send). */
    write: (frames: Arr.NonEmptyReadonlyArray<OutboundFrame>, replayable: Replayable) => Effect.Effect<void, E2, R2>
  ) => Effect.Effect<ReplyOutcome, E2, R | R2>
  /** A fresh inbound assembler with the configured bounds. */
  readonly makeAssembler: Effect.Effect<InboundAssembler>
}>()("insta-claw/Protocol") {
  /** Built from `ConnectorConfig` (delta size, event profile, model name, inbound bounds). */
  static readonly layer = Layer.effect(
    Protocol,
    Effect.gen(function*() {
      const config = yield* ConnectorConfig
      return make({
        progressEvents: config.progressEvents,
        deltaSize: config.deltaSize,
        eventProfile: config.eventProfile,
        model: config.model,
        limits: {
          maxInFlight: config.maxInFlightResponses,
          maxTextBytes: config.maxResponseTextBytes,
          idleTimeoutMillis: config.responseIdleTimeout
        }
      })
    })
  )

  /** With explicit settings, no config needed. */
  static readonly layerWith = (settings: Partial<ProtocolSettings> = {}) => Layer.succeed(Protocol, make(settings))
}

export const defaultLimits: AssemblerLimits = {
  maxInFlight: defaults.maxInFlightResponses,
  maxTextBytes: defaults.maxResponseTextBytes,
  idleTimeoutMillis: defaults.responseIdleTimeout
}

/** Builds the service value. */
export const make = (partial: Partial<ProtocolSettings> = {}): Protocol["Service"] => {
  const settings: ProtocolSettings = {
    progressEvents: partial.progressEvents ?? defaults.progressEvents,
    deltaSize: partial.deltaSize ?? defaults.deltaSize,
    eventProfile: partial.eventProfile ?? defaults.eventProfile,
    model: partial.model ?? defaults.model,
    limits: partial.limits ?? defaultLimits
  }

  const encoderOptions = (conversationId: string) =>
    Effect.gen(function*() {
      const token = yield* randomToken
      const nowMillis = yield* Clock.currentTimeMillis
      return {
        conversationId,
        token,
        startedAt: nowMillis,
        model: settings.model,
        profile: settings.eventProfile,
        deltaSize: settings.deltaSize
      } satisfies ReplyEncoderOptions
    })
  const newEncoder = (conversationId: string) => Effect.map(encoderOptions(conversationId), (options) => new ReplyEncoder(options))

  // Reasoning and tool steps only where the full event profile can carry them.
  const progress = settings.progressEvents && settings.eventProfile === "full"

  /** The last frame for a source that failed: failed, or incomplete when it was stopped. */
  const failureFrames = (encoder: ReplyEncoder, options: ReplyOptions, cause: Cause.Cause<unknown>) => {
    const stopped = options.describeStop?.(cause)
    return stopped === undefined
      ? encoder.fail((options.describeFailure ?? (() => genericFailure))(cause))
      : encoder.incomplete(stopped)
  }

  /**
   * A chunk with its media resolved (`ReplyOptions.resolveMedia`), or `undefined` when there is
   * nothing to resolve — the common chunk, which then costs no effect.
   */
  const resolved = (options: ReplyOptions, chunk: ReadonlyArray<ReplyPiece>): Effect.Effect<ReadonlyArray<ReplyPiece>> | undefined => {
    const resolve = options.resolveMedia
    if (resolve === undefined || !chunk.some((piece) => typeof piece !== "string" && piece._tag === "Media")) return undefined
    return Effect.map(
      Effect.forEach(chunk, (piece) => typeof piece !== "string" && piece._tag === "Media" ? resolve(piece) : Effect.succeed([piece])),
      (pieces) => pieces.flat()
    )
  }

  const streamReply = <E = never, R = never>(options: ReplyOptions, text: string | Stream.Stream<ReplyPiece, E, R>) => {
    if (typeof text === "string") {
      if (text.trim() === "") return Stream.fail(new EmptyMessageError())
      return Stream.unwrap(
        Effect.map(newEncoder(options.conversationId), (encoder) =>
          Stream.fromIterable([...encoder.open(), ...encoder.text(text), ...encoder.complete()])
        )
      )
    }
    return Stream.unwrap(
      Effect.gen(function*() {
        const encoder = yield* newEncoder(options.conversationId)
        const now = Clock.currentTimeMillis
        // created and in_progress leave at once, before the agent has a word: the user's
        // "working on it" (docs/PROTOCOL.md §4). The item and its part follow with the first text.
        const begin = Stream.fromEffect(Effect.map(now, (millis) => encoder.at(millis).begin()))
        // Pieces that are ready together (one chunk of the agent's stream) become one batch of
        // frames, which the connection writes at once.
        const encode = (chunk: ReadonlyArray<ReplyPiece>) => Effect.map(now, (millis) => [piecesFrames(encoder.at(millis), chunk, progress)] as const)
        const pieces = text.pipe(
          Stream.mapArrayEffect((chunk) => Effect.flatMap(resolved(options, chunk) ?? Effect.succeed(chunk), encode)),
          Stream.catchCause((cause) =>
            Stream.fromEffect(
              Effect.andThen(options.onSourceFailure?.(cause) ?? Effect.void, Effect.map(now, (millis) => failureFrames(encoder.at(millis), options, cause)))
            )
          )
        )
        // A reply that never had any text ends as failed: nothing to complete.
        const end = Stream.fromEffect(Effect.map(now, (millis) => endFrames(encoder.at(millis), emptyReplyFailure)))
        return Stream.concat(Stream.concat(begin, pieces), end).pipe(Stream.filter((frames): frames is Arr.NonEmptyArray<OutboundFrame> => frames.length > 0), Stream.flattenArray)
      })
    )
  }

  const writeReply = <E, R, E2, R2>(
    options: ReplyOptions,
    text: Stream.Stream<ReplyPiece, E, R>,
    write: (frames: Arr.NonEmptyReadonlyArray<OutboundFrame>, replayable: Replayable) => Effect.Effect<void, E2, R2>
  ): Effect.Effect<ReplyOutcome, E2, R | R2> =>
    Effect.gen(function*() {
      // Every call on the encoder is noted, so the connection can keep the reply as the note
      // rather than its frames until the server has read them (`internal/replyJournal.ts`).
      const journal = new ReplyJournal(yield* encoderOptions(options.conversationId), progress)
      const clock = yield* Clock.Clock
      const now = () => clock.currentTimeMillisUnsafe()
      const writeSome = (frames: ReadonlyArray<OutboundFrame>) => Arr.isReadonlyArrayNonEmpty(frames) ? write(frames, journal) : Effect.void
      yield* writeSome(journal.begin(now()))
      // The source is run chunk by chunk, with no stream stage in between (the stages were 42 of
      // the 77 Effect operations of an echoed reply; now 20). `write`'s own failure is noted, so
      // it is told apart from the source's: it ends the run as it is (the connection is gone),
      // while the source's becomes the response's last frame.
      let writeFailure: Cause.Cause<E2> | undefined
      const writeFrames = (chunk: ReadonlyArray<ReplyPiece>) =>
        Effect.onError(writeSome(journal.pieces(now(), chunk)), (cause) =>
          Effect.sync(() => {
            writeFailure = cause
          }))
      const writeChunk = (chunk: ReadonlyArray<ReplyPiece>) => {
        const media = resolved(options, chunk)
        return media === undefined ? writeFrames(chunk) : Effect.flatMap(media, writeFrames)
      }
      const failure = yield* Stream.runForEachArray(text, writeChunk).pipe(
        Effect.as(undefined),
        Effect.catchCause((cause) => writeFailure === undefined ? Effect.succeed(cause) : Effect.failCause(writeFailure))
      )
      if (failure === undefined) {
        const outcome: ReplyOutcome = journal.completable ? { _tag: "Completed" } : { _tag: "Empty" }
        yield* writeSome(journal.end(now(), emptyReplyFailure))
        return outcome
      }
      if (options.onSourceFailure !== undefined) yield* options.onSourceFailure(failure)
      // Described once: a replay makes the same last frame without asking again.
      const stopped = options.describeStop?.(failure)
      if (stopped !== undefined) {
        yield* writeSome(journal.stop(now(), stopped))
        return { _tag: "Stopped", reason: stopped }
      }
      yield* writeSome(journal.fail(now(), (options.describeFailure ?? (() => genericFailure))(failure)))
      return { _tag: "Failed", cause: failure }
    })

  return Protocol.of({
    settings,
    streamReply,
    writeReply,
    makeAssembler: Effect.sync(() => new InboundAssembler(settings.limits))
  })
}

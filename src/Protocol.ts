/**
 * The InstaClaw wire protocol (`docs/PROTOCOL.md` §2–§5) as code: schemas for the envelope and the
 * Open Responses streaming events, the outbound encoder that turns one reply into one streamed
 * response, and the inbound assembler that turns streamed events back into whole messages.
 *
 * Pure: no sockets and no timers. Time comes from Effect's `Clock`, ids from Effect's `Random`,
 * so a test with `TestClock` and a seeded `Random` sees the same frames every run.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Effect, Layer, Random, Result, Schema, SchemaIssue, Stream } from "effect"
import { ConnectorConfig } from "./Config.ts"
import { defaults, type EventProfile } from "./Settings.ts"
import { InboundAssembler, type AssemblerLimits } from "./internal/inbound.ts"
import { ReplyEncoder, type ReplyFailure } from "./internal/outbound.ts"

export { InboundAssembler, type AssemblerLimits, type AssemblerOutput, type InboundMessage, type Violation, type ViolationReason } from "./internal/inbound.ts"
export { chunkText, ReplyEncoder, type OutboundFrame, type ReplyFailure } from "./internal/outbound.ts"

// ---------------------------------------------------------------------------------------------
// Events (§3). Every event keeps unknown keys, so decode then encode gives back the same JSON.
// ---------------------------------------------------------------------------------------------

const Rest = [Schema.Record(Schema.String, Schema.Unknown)] as const

/** Fields every event may carry: the Open Responses sequence number and InstaClaw's routing ids. */
const eventFields = {
  sequence_number: Schema.optionalKey(Schema.Int),
  event_id: Schema.optionalKey(Schema.String),
  response_id: Schema.optionalKey(Schema.String)
}

/** The `response` snapshot. Only the keys a receiver reads are typed; all others are kept. */
export const ResponseSnapshot = Schema.StructWithRest(
  Schema.Struct({
    id: Schema.optionalKey(Schema.String),
    status: Schema.optionalKey(Schema.String),
    error: Schema.optionalKey(Schema.NullOr(Schema.Struct({ code: Schema.String, message: Schema.String })))
  }),
  Rest
)
export type ResponseSnapshot = typeof ResponseSnapshot.Type

/** A text content part (`output_text`, `input_text`, …). */
export const ContentPart = Schema.StructWithRest(
  Schema.Struct({ type: Schema.String, text: Schema.optionalKey(Schema.String) }),
  Rest
)
export type ContentPart = typeof ContentPart.Type

/** An output item; for InstaClaw always a `message`. */
export const OutputItem = Schema.StructWithRest(
  Schema.Struct({
    type: Schema.String,
    id: Schema.optionalKey(Schema.String),
    status: Schema.optionalKey(Schema.String),
    role: Schema.optionalKey(Schema.String),
    content: Schema.optionalKey(Schema.Array(ContentPart))
  }),
  Rest
)
export type OutputItem = typeof OutputItem.Type

const lifecycleEvent = <const T extends string>(type: T) =>
  Schema.StructWithRest(
    Schema.Struct({ type: Schema.Literal(type), ...eventFields, response: Schema.optionalKey(ResponseSnapshot) }),
    Rest
  )

const itemEvent = <const T extends string>(type: T) =>
  Schema.StructWithRest(
    Schema.Struct({
      type: Schema.Literal(type),
      ...eventFields,
      output_index: Schema.optionalKey(Schema.Int),
      item: Schema.optionalKey(OutputItem)
    }),
    Rest
  )

const locationFields = {
  item_id: Schema.optionalKey(Schema.String),
  output_index: Schema.optionalKey(Schema.Int),
  content_index: Schema.optionalKey(Schema.Int)
}

const partEvent = <const T extends string>(type: T) =>
  Schema.StructWithRest(
    Schema.Struct({ type: Schema.Literal(type), ...eventFields, ...locationFields, part: Schema.optionalKey(ContentPart) }),
    Rest
  )

export const ResponseCreated = lifecycleEvent("response.created")
export const ResponseQueued = lifecycleEvent("response.queued")
export const ResponseInProgress = lifecycleEvent("response.in_progress")
export const ResponseCompleted = lifecycleEvent("response.completed")
export const ResponseFailed = lifecycleEvent("response.failed")
export const ResponseIncomplete = lifecycleEvent("response.incomplete")
export const OutputItemAdded = itemEvent("response.output_item.added")
export const OutputItemDone = itemEvent("response.output_item.done")
export const ContentPartAdded = partEvent("response.content_part.added")
export const ContentPartDone = partEvent("response.content_part.done")
export const OutputTextDelta = Schema.StructWithRest(
  Schema.Struct({ type: Schema.Literal("response.output_text.delta"), ...eventFields, ...locationFields, delta: Schema.String }),
  Rest
)
export const OutputTextDone = Schema.StructWithRest(
  Schema.Struct({ type: Schema.Literal("response.output_text.done"), ...eventFields, ...locationFields, text: Schema.String }),
  Rest
)

/** The events InstaClaw reads and writes, as a tagged union on `type`. */
export const KnownEvent = Schema.Union([
  ResponseCreated,
  ResponseQueued,
  ResponseInProgress,
  ResponseCompleted,
  ResponseFailed,
  ResponseIncomplete,
  OutputItemAdded,
  OutputItemDone,
  ContentPartAdded,
  ContentPartDone,
  OutputTextDelta,
  OutputTextDone
]).pipe(Schema.toTaggedUnion("type"))
export type KnownEvent = typeof KnownEvent.Type
export type KnownEventType = KnownEvent["type"]

const knownTypes: ReadonlySet<string> = new Set(Object.keys(KnownEvent.cases))

/**
 * Any other event (reasoning, refusal, annotations, `prefix:name` extensions): valid, carried
 * through, and ignored by the assembler.
 */
export const OtherEvent = Schema.StructWithRest(
  Schema.Struct({
    type: Schema.String.check(Schema.makeFilter((type) => !knownTypes.has(type), { expected: "an event type InstaClaw does not read" })),
    ...eventFields
  }),
  Rest
)
export type OtherEvent = typeof OtherEvent.Type

/** One Open Responses streaming event, with InstaClaw's `event_id`/`response_id`. */
export const StreamingEvent = Schema.Union([KnownEvent, OtherEvent])
export type StreamingEvent = typeof StreamingEvent.Type

/** Narrows an event to the ones the assembler reads. */
export const isKnownEvent = (event: StreamingEvent): event is KnownEvent => knownTypes.has(event.type)

// ---------------------------------------------------------------------------------------------
// Envelope (§2): `data` is a JSON string holding one event.
// ---------------------------------------------------------------------------------------------

export const Headers = Schema.Struct({
  messageId: Schema.String,
  timestamp: Schema.Finite,
  conversationId: Schema.optionalKey(Schema.String),
  senderId: Schema.optionalKey(Schema.String),
  senderName: Schema.optionalKey(Schema.String)
})
export type Headers = typeof Headers.Type

/** A `"message"` envelope: the only kind in protocol v1. */
export const MessageEnvelope = Schema.Struct({
  type: Schema.Literal("message"),
  headers: Headers,
  data: Schema.fromJsonString(StreamingEvent)
})
export type MessageEnvelope = typeof MessageEnvelope.Type

/** Any other envelope kind: ignored with a debug log (room for later kinds). */
export const OtherEnvelope = Schema.StructWithRest(
  Schema.Struct({
    type: Schema.String.check(Schema.makeFilter((type) => type !== "message", { expected: "an envelope type other than \"message\"" }))
  }),
  Rest
)
export type OtherEnvelope = typeof OtherEnvelope.Type

export const Envelope = Schema.Union([MessageEnvelope, OtherEnvelope])
export type Envelope = typeof Envelope.Type

/** A whole text frame: the JSON of one envelope. */
export const Frame = Schema.fromJsonString(Envelope)

/** A frame that is not a valid envelope. `message` is Schema's readable report. */
export class ProtocolDecodeError extends Schema.TaggedError<ProtocolDecodeError>()("ProtocolDecodeError", {
  message: Schema.String
}) {}

const formatIssue = SchemaIssue.makeFormatterDefault()
const decodeFrameResult = Schema.decodeUnknownResult(Frame)

/**
 * Decodes one text frame.
 *
 * Gotchas: the error message describes the shape, never the frame's contents, so a frame that
 * echoes a credential cannot carry it into a log line.
 */
export const decodeFrame = (text: string): Result.Result<Envelope, ProtocolDecodeError> =>
  Result.mapError(decodeFrameResult(text), (error) => new ProtocolDecodeError({ message: `Malformed frame: ${formatIssue(error.issue)}` }))

/** Encodes one envelope to its frame text (with `data` double-encoded). */
export const encodeFrame: (envelope: Envelope) => string = Schema.encodeSync(Frame)

/** True for a `"message"` envelope. */
export const isMessageEnvelope = (envelope: Envelope): envelope is MessageEnvelope => envelope.type === "message"

// ---------------------------------------------------------------------------------------------
// Ids: `resp_…`, `item_…`, `evt_…`, `msg_<ms>_…` from Effect's Random (seed it in tests).
// ---------------------------------------------------------------------------------------------

/** A random token of 12 base-36 characters from Effect's `Random` (two draws of 6 characters). */
export const randomToken: Effect.Effect<string> = Effect.map(
  Effect.all([Random.next, Random.next]),
  ([a, b]) => [a, b].map((r) => Math.floor(r * 36 ** 6).toString(36).padStart(6, "0")).join("")
)

// ---------------------------------------------------------------------------------------------
// The service.
// ---------------------------------------------------------------------------------------------

/** What `streamReply` needs to know about the reply. */
export interface ReplyOptions {
  readonly conversationId: string
  /** Maps a failure of the source to the `{ code, message }` sent in `response.failed`. */
  readonly describeFailure?: ((cause: Cause.Cause<unknown>) => ReplyFailure) | undefined
}

/** The text was empty or whitespace only; nothing was sent (docs/PROTOCOL.md §5). */
export class EmptyMessageError extends Schema.TaggedError<EmptyMessageError>()("EmptyMessageError", {}) {
  override get message() {
    return "Cannot send empty message"
  }
}

/** The default `response.failed` error: says something went wrong, and nothing more. */
export const genericFailure: ReplyFailure = { code: "server_error", message: "The agent could not produce a reply." }

export interface ProtocolSettings {
  readonly deltaSize: number
  readonly eventProfile: EventProfile
  readonly model: string
  readonly limits: AssemblerLimits
}

export class Protocol extends Context.Service<Protocol, {
  readonly settings: ProtocolSettings
  /**
   * Turns a reply — a whole string or a stream of text pieces — into the frames of one Open
   * Responses response (§4), emitted as the pieces arrive. A failing source ends the response
   * with `response.failed`; empty text fails with `EmptyMessageError` before any frame.
   */
  readonly streamReply: <E = never, R = never>(
    options: ReplyOptions,
    text: string | Stream.Stream<string, E, R>
  ) => Stream.Stream<import("./internal/outbound.ts").OutboundFrame, EmptyMessageError, R>
  /** A fresh inbound assembler with the configured bounds. */
  readonly makeAssembler: Effect.Effect<InboundAssembler>
}>()("insta-claw/Protocol") {
  /** Built from `ConnectorConfig` (delta size, event profile, model name, inbound bounds). */
  static readonly layer = Layer.effect(
    Protocol,
    Effect.gen(function*() {
      const config = yield* ConnectorConfig
      return make({
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
    deltaSize: partial.deltaSize ?? defaults.deltaSize,
    eventProfile: partial.eventProfile ?? defaults.eventProfile,
    model: partial.model ?? defaults.model,
    limits: partial.limits ?? defaultLimits
  }

  const newEncoder = (conversationId: string) =>
    Effect.gen(function*() {
      const token = yield* randomToken
      const nowMillis = yield* Clock.currentTimeMillis
      return new ReplyEncoder({
        conversationId,
        token,
        startedAt: nowMillis,
        model: settings.model,
        profile: settings.eventProfile,
        deltaSize: settings.deltaSize
      })
    })

  const streamReply = <E = never, R = never>(options: ReplyOptions, text: string | Stream.Stream<string, E, R>) => {
    const describeFailure = options.describeFailure ?? (() => genericFailure)
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
        const body = text.pipe(
          Stream.mapEffect((piece) => Effect.map(now, (millis) => encoder.at(millis).text(piece))),
          Stream.catchCause((cause) =>
            Stream.fromEffect(Effect.map(now, (millis) => encoder.at(millis).fail(describeFailure(cause))))
          ),
          Stream.concat(Stream.fromEffect(Effect.map(now, (millis) => encoder.at(millis).complete()))),
          Stream.flatMap((frames) => Stream.fromIterable(frames))
        )
        return body.pipe(
          Stream.concat(
            Stream.suspend(() => (encoder.started ? Stream.empty : Stream.fail(new EmptyMessageError())))
          )
        )
      })
    )
  }

  return Protocol.of({
    settings,
    streamReply,
    makeAssembler: Effect.sync(() => new InboundAssembler(settings.limits))
  })
}

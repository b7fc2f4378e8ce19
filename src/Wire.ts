/**
 * The wire format (docs/PROTOCOL.md §2–§3, §6–§7) as `Schema`s: the envelope kinds (`message`,
 * and v2's `hello` and `ack`), the Open Responses streaming events InstaClaw reads and writes, and
 * the decoding of one text frame.
 *
 * The event types the connector understands are listed once, as the cases of `KnownEvent`;
 * `isKnownEvent` and the assembler read that same list.
 *
 * @since 0.1.0
 */
import { Result, Schema, SchemaIssue } from "effect"
import { checkMessage } from "./internal/messageCheck.ts"

// ---------------------------------------------------------------------------------------------
// Events (§3). Every event keeps unknown keys, so decode then encode gives back the same JSON.
// ---------------------------------------------------------------------------------------------

const Rest = [Schema.Record(Schema.String, Schema.Unknown)] as const

/**
 * The longest id accepted (docs/PROTOCOL.md §4): every id the connector may remember is bounded,
 * so dedupe memory is bounded in bytes whatever the server sends. A longer one makes the frame
 * malformed (its error names the field, never the value).
 */
export const MAX_ID_LENGTH = 256
const Id = Schema.String.check(Schema.isMaxLength(MAX_ID_LENGTH))

/** Fields every event may carry: the Open Responses sequence number and InstaClaw's routing ids. */
const eventFields = {
  sequence_number: Schema.optionalKey(Schema.Int),
  event_id: Schema.optionalKey(Id),
  response_id: Schema.optionalKey(Id)
}

/** The `response` snapshot. Only the keys a receiver reads are typed; all others are kept. */
export const ResponseSnapshot = Schema.StructWithRest(
  Schema.Struct({
    id: Schema.optionalKey(Id),
    status: Schema.optionalKey(Schema.String),
    error: Schema.optionalKey(Schema.NullOr(Schema.Struct({ code: Schema.String, message: Schema.String })))
  }),
  Rest
)
export type ResponseSnapshot = typeof ResponseSnapshot.Type

/**
 * A content part: text (`output_text`, `input_text`, …) or a medium (§8.1: `input_image`'s
 * `image_url`, `input_file`'s `file_url` and `filename`, `input_video`'s `video_url`; each may be
 * null, as the schema allows for `image_url`). The assembler checks the URLs themselves.
 */
const UrlField = Schema.optionalKey(Schema.NullOr(Schema.String))
export const ContentPart = Schema.StructWithRest(
  Schema.Struct({ type: Schema.String, text: Schema.optionalKey(Schema.String), image_url: UrlField, file_url: UrlField, video_url: UrlField, filename: UrlField }),
  Rest
)
export type ContentPart = typeof ContentPart.Type

/** An output item; for InstaClaw always a `message`. */
export const OutputItem = Schema.StructWithRest(
  Schema.Struct({
    type: Schema.String,
    id: Schema.optionalKey(Id),
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
  item_id: Schema.optionalKey(Id),
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

/** Every event type the connector reads and writes: the one list (the cases of `KnownEvent`). */
export const KNOWN_EVENT_TYPES: ReadonlyArray<KnownEventType> = Object.keys(KnownEvent.cases) as Array<KnownEventType>
const knownTypes: ReadonlySet<string> = new Set(KNOWN_EVENT_TYPES)

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
  messageId: Id,
  timestamp: Schema.Finite,
  conversationId: Schema.optionalKey(Id),
  senderId: Schema.optionalKey(Id),
  senderName: Schema.optionalKey(Schema.String),
  // Group chats (§8.2): the kind of chat, the group's name, whether the server knows the message
  // mentions this account's agent, and the message it replies to or quotes.
  chatType: Schema.optionalKey(Schema.Literals(["direct", "group"])),
  groupName: Schema.optionalKey(Schema.String),
  mentioned: Schema.optionalKey(Schema.Boolean),
  replyToId: Schema.optionalKey(Id),
  replyToText: Schema.optionalKey(Schema.String)
})
export type Headers = typeof Headers.Type

/**
 * Who wrote a user message, and where (§2, §8.2): read from the headers of the envelope that
 * started it. `senderId` defaults to the conversation; `chatType` is there for a group only (a
 * direct chat's message looks as it did before groups); `mentioned` is absent when the server
 * cannot tell.
 */
export interface Origin {
  readonly senderId: string
  readonly senderName?: string | undefined
  readonly chatType?: "group" | undefined
  readonly groupName?: string | undefined
  readonly mentioned?: boolean | undefined
  readonly replyToId?: string | undefined
  readonly replyToText?: string | undefined
}

export const originOf = (headers: Headers, conversationId: string): Origin => {
  const { chatType, groupName, mentioned, replyToId, replyToText, senderName } = headers
  return {
    senderId: headers.senderId ?? conversationId,
    ...(senderName === undefined ? {} : { senderName }),
    ...(chatType === "group" ? { chatType } : {}),
    ...(groupName === undefined ? {} : { groupName }),
    ...(mentioned === undefined ? {} : { mentioned }),
    ...(replyToId === undefined ? {} : { replyToId }),
    ...(replyToText === undefined ? {} : { replyToText })
  }
}

/** A `"message"` envelope: the only kind in protocol v1. */
export const MessageEnvelope = Schema.Struct({
  type: Schema.Literal("message"),
  headers: Headers,
  data: Schema.fromJsonString(StreamingEvent)
})
export type MessageEnvelope = typeof MessageEnvelope.Type

// ---------------------------------------------------------------------------------------------
// Version 2 (§6–§7): the handshake and acknowledgements, envelopes of their own kinds.
// ---------------------------------------------------------------------------------------------

/** The protocol version a v2 hello announces. */
export const PROTOCOL_VERSION = 2

/** The features a v2 hello may list (§6). Peers ignore names they do not know. */
export const FEATURES = ["ack", "media", "groups"] as const
export type Feature = typeof FEATURES[number]

/**
 * The `data` of a hello: `{ protocol, features, upload?, maxFrameBytes? }`. Unknown features and fields are kept
 * and ignored, so a later peer's hello still decodes.
 */
export const HelloData = Schema.StructWithRest(
  Schema.Struct({
    protocol: Schema.Int,
    features: Schema.Array(Schema.String),
    upload: Schema.optionalKey(Schema.StructWithRest(Schema.Struct({ url: Schema.String }), Rest)),
    /** The largest frame the server reads (§8.1: outbound media are inlined within it). */
    maxFrameBytes: Schema.optionalKey(Schema.Int)
  }),
  Rest
)
export type HelloData = typeof HelloData.Type

/** A `"hello"` envelope: the client's first frame on every link, and a v2 server's answer. */
export const HelloEnvelope = Schema.Struct({
  type: Schema.Literal("hello"),
  headers: Headers,
  data: Schema.fromJsonString(HelloData)
})
export type HelloEnvelope = typeof HelloEnvelope.Type

/** The `data` of an ack: the user message taken, by its `response_id`. */
export const AckData = Schema.StructWithRest(Schema.Struct({ response_id: Id }), Rest)
export type AckData = typeof AckData.Type

/** An `"ack"` envelope: the client took the user message `data.response_id` (§7). */
export const AckEnvelope = Schema.Struct({
  type: Schema.Literal("ack"),
  headers: Headers,
  data: Schema.fromJsonString(AckData)
})
export type AckEnvelope = typeof AckEnvelope.Type

/** The envelope kinds this package reads; any other kind is an `OtherEnvelope`. */
const knownKinds: ReadonlySet<string> = new Set(["message", "hello", "ack"])

/** Any other envelope kind: ignored with a debug log (room for later kinds). */
export const OtherEnvelope = Schema.StructWithRest(
  Schema.Struct({
    type: Schema.String.check(Schema.makeFilter((type) => !knownKinds.has(type), { expected: "an envelope type other than \"message\", \"hello\" or \"ack\"" }))
  }),
  Rest
)
export type OtherEnvelope = typeof OtherEnvelope.Type

export const Envelope = Schema.Union([MessageEnvelope, HelloEnvelope, AckEnvelope, OtherEnvelope])
export type Envelope = typeof Envelope.Type

/** A whole text frame: the JSON of one envelope. */
export const Frame = Schema.fromJsonString(Envelope)

/** A frame that is not a valid envelope. `message` is Schema's readable report. */
export class ProtocolDecodeError extends Schema.TaggedError<ProtocolDecodeError>()("ProtocolDecodeError", {
  message: Schema.String
}) {}

const formatIssue = SchemaIssue.makeFormatterDefault()
const decodeFrameResult = Schema.decodeUnknownResult(Frame)

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Decodes one text frame.
 *
 * The common frame, a valid `"message"` envelope, takes a fast path: both JSON layers parsed with
 * `JSON.parse`, then the checks of `MessageEnvelope` written out by hand
 * (`internal/messageCheck.ts`, held equal to the schema by a property test). Anything that path
 * does not accept — other envelope kinds, malformed frames, rare shapes — is decoded by `Frame`
 * itself, which gives the same result and the readable error.
 *
 * Gotchas: the error message describes the shape, never the frame's contents, so a frame that
 * echoes a credential cannot carry it into a log line.
 */
export const decodeFrame = (text: string): Result.Result<Envelope, ProtocolDecodeError> => {
  const parsed = parseJson(text) as { readonly type?: unknown; readonly headers?: unknown; readonly data?: unknown } | undefined
  if (typeof parsed === "object" && parsed !== null && parsed.type === "message" && typeof parsed.data === "string") {
    const checked = checkMessage(parsed.type, parsed.headers, parseJson(parsed.data))
    if (checked !== undefined) return Result.succeed(checked as MessageEnvelope)
  }
  return Result.mapError(decodeFrameResult(text), (error) => new ProtocolDecodeError({ message: `Malformed frame: ${formatIssue(error.issue)}` }))
}

/** Encodes one envelope to its frame text (with `data` double-encoded). */
export const encodeFrame: (envelope: Envelope) => string = Schema.encodeSync(Frame)

/** True for a `"message"`, a `"hello"`, an `"ack"` envelope. */
export const isMessageEnvelope = (envelope: Envelope): envelope is MessageEnvelope => envelope.type === "message"
export const isHelloEnvelope = (envelope: Envelope): envelope is HelloEnvelope => envelope.type === "hello"
export const isAckEnvelope = (envelope: Envelope): envelope is AckEnvelope => envelope.type === "ack"

/**
 * The frame of a hello: `{ protocol: 2, features, upload?, maxFrameBytes? }` as the double-encoded
 * `data`. Gotchas: a server lists only the features it will use on this link (the intersection).
 */
export const helloFrame = (hello: {
  readonly messageId: string
  readonly timestamp: number
  readonly features: ReadonlyArray<string>
  readonly upload?: { readonly url: string } | undefined
  readonly maxFrameBytes?: number | undefined
}): string => {
  const { features, maxFrameBytes, upload } = hello
  const data = { protocol: PROTOCOL_VERSION, features, ...(upload === undefined ? {} : { upload }), ...(maxFrameBytes === undefined ? {} : { maxFrameBytes }) }
  return JSON.stringify({ type: "hello", headers: { messageId: hello.messageId, timestamp: hello.timestamp }, data: JSON.stringify(data) })
}

/** The frame of an ack for the user message `responseId` in `conversationId`. */
export const ackFrame = (ack: { readonly messageId: string; readonly timestamp: number; readonly conversationId: string; readonly responseId: string }): string =>
  JSON.stringify({
    type: "ack",
    headers: { messageId: ack.messageId, timestamp: ack.timestamp, conversationId: ack.conversationId },
    data: JSON.stringify({ response_id: ack.responseId })
  })

/**
 * The hot path of `Wire.decodeFrame`: a parsed `"message"` envelope checked by hand, field by
 * field, against exactly the rules of `Wire.MessageEnvelope` — and given back in the shape that
 * schema's decoder gives.
 *
 * It only ever says yes to what the schema says yes to. Anything it does not accept (`undefined`)
 * goes to the schema, which decides, with its readable error; so a rare but valid shape (an
 * `error` with extra keys, say) is still decoded, only more slowly. A property test holds the two
 * together: whatever this accepts, the schema accepts and decodes to an equal value.
 *
 * Why by hand: the schema's compiled decoder copied every event key by key and ran each check
 * through its parser — 4 µs of an event's 6 µs (the inbound bench's profile) — where the checks
 * themselves are a few `typeof`s. The schema stays the definition; this is its fast path.
 */
/** Same bound as `Wire.MAX_ID_LENGTH` (kept equal by a test: `Wire` imports this module). */
const MAX_ID = 256

type Json = Record<string, unknown>

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isId = (value: unknown) => typeof value === "string" && value.length <= MAX_ID
/**
 * An optional key: absent, or present and passing `check`. The objects come from `JSON.parse`,
 * which never makes an `undefined` value, and none of the keys read is inherited from
 * `Object.prototype`: `undefined` means absent.
 */
const optional = (object: Json, key: string, check: (value: unknown) => boolean) => {
  const value = object[key]
  return value === undefined || check(value)
}
const isString = (value: unknown) => typeof value === "string"
const isInt = (value: unknown) => Number.isSafeInteger(value)

/** `sequence_number`, `event_id`, `response_id`: every event may carry them. */
const eventFields = (event: Json) =>
  optional(event, "sequence_number", isInt) && optional(event, "event_id", isId) && optional(event, "response_id", isId)

const locationFields = (event: Json) =>
  optional(event, "item_id", isId) && optional(event, "output_index", isInt) && optional(event, "content_index", isInt)

const isStringOrNull = (value: unknown) => value === null || typeof value === "string"

/** A content part: its text, and (§8.1) its media URLs and file name, each a string or null. */
const isContentPart = (part: unknown) =>
  isObject(part) && typeof part.type === "string" && optional(part, "text", isString) &&
  optional(part, "image_url", isStringOrNull) && optional(part, "file_url", isStringOrNull) &&
  optional(part, "video_url", isStringOrNull) && optional(part, "filename", isStringOrNull)

const isOutputItem = (item: unknown) =>
  isObject(item) &&
  typeof item.type === "string" &&
  optional(item, "id", isId) &&
  optional(item, "status", isString) &&
  optional(item, "role", isString) &&
  optional(item, "content", (content) => Array.isArray(content) && content.every(isContentPart))

/**
 * The `response` snapshot. Its `error` is a closed struct in the schema (extra keys are dropped
 * when decoding), so only the exact `{ code, message }` shape is taken here.
 */
const isSnapshot = (response: unknown) =>
  isObject(response) &&
  optional(response, "id", isId) &&
  optional(response, "status", isString) &&
  optional(response, "error", (error) =>
    error === null ||
    (isObject(error) && typeof error.code === "string" && typeof error.message === "string" && Object.keys(error).length === 2))

const KNOWN: ReadonlySet<string> = new Set([
  "response.created",
  "response.queued",
  "response.in_progress",
  "response.completed",
  "response.failed",
  "response.incomplete",
  "response.output_item.added",
  "response.output_item.done",
  "response.content_part.added",
  "response.content_part.done",
  "response.output_text.delta",
  "response.output_text.done"
])

/** The known event types, for the test that keeps this list equal to `Wire.KNOWN_EVENT_TYPES`. */
export const CHECKED_EVENT_TYPES: ReadonlySet<string> = KNOWN

const isEvent = (event: unknown): boolean => {
  if (!isObject(event) || typeof event.type !== "string" || !eventFields(event)) return false
  switch (event.type) {
    case "response.output_text.delta":
      return locationFields(event) && typeof event.delta === "string"
    case "response.output_text.done":
      return locationFields(event) && typeof event.text === "string"
    case "response.content_part.added":
    case "response.content_part.done":
      return locationFields(event) && optional(event, "part", isContentPart)
    case "response.output_item.added":
    case "response.output_item.done":
      return optional(event, "output_index", isInt) && optional(event, "item", isOutputItem)
    case "response.created":
    case "response.queued":
    case "response.in_progress":
    case "response.completed":
    case "response.failed":
    case "response.incomplete":
      return optional(event, "response", isSnapshot)
    default:
      // Any other type is an `OtherEvent`: the common fields only.
      return !KNOWN.has(event.type)
  }
}

interface CheckedHeaders {
  messageId: string
  timestamp: number
  conversationId?: string
  senderId?: string
  senderName?: string
  chatType?: "direct" | "group"
  groupName?: string
  mentioned?: boolean
  replyToId?: string
  replyToText?: string
}

/** A `Wire.MessageEnvelope` (typed here by shape: this module may not import `Wire`). */
export interface CheckedMessage {
  readonly type: "message"
  readonly headers: CheckedHeaders
  readonly data: unknown
}

/**
 * The decoded envelope if `type` is `"message"` and `headers` and the parsed `data` pass every
 * check of `Wire.MessageEnvelope`; otherwise `undefined` (ask the schema).
 *
 * The event is given back as parsed (the schema keeps every key of an event too); the headers
 * are rebuilt with their known keys only, as the schema's closed struct does.
 */
export const checkMessage = (type: unknown, headers: unknown, data: unknown): CheckedMessage | undefined => {
  if (type !== "message" || !isObject(headers) || !isEvent(data)) return undefined
  const { messageId, timestamp } = headers
  if (!isId(messageId) || typeof timestamp !== "number" || !Number.isFinite(timestamp)) return undefined
  const checked: CheckedHeaders = { messageId: messageId as string, timestamp }
  if (headers.conversationId !== undefined) {
    if (!isId(headers.conversationId)) return undefined
    checked.conversationId = headers.conversationId as string
  }
  if (headers.senderId !== undefined) {
    if (!isId(headers.senderId)) return undefined
    checked.senderId = headers.senderId as string
  }
  if (headers.senderName !== undefined) {
    if (typeof headers.senderName !== "string") return undefined
    checked.senderName = headers.senderName
  }
  // The group headers (§8.2) are rare: one test for all of them when none is there.
  if (
    headers.chatType !== undefined || headers.groupName !== undefined || headers.mentioned !== undefined ||
    headers.replyToId !== undefined || headers.replyToText !== undefined
  ) {
    if (!checkGroupHeaders(headers, checked)) return undefined
  }
  return { type: "message", headers: checked, data }
}

/** The group headers of `Wire.Headers`, copied into `checked`; false if one is not valid. */
const checkGroupHeaders = (headers: Record<string, unknown>, checked: CheckedHeaders): boolean => {
  const { chatType, groupName, mentioned, replyToId, replyToText } = headers
  if (chatType !== undefined) {
    if (chatType !== "direct" && chatType !== "group") return false
    checked.chatType = chatType
  }
  if (groupName !== undefined) {
    if (typeof groupName !== "string") return false
    checked.groupName = groupName
  }
  if (mentioned !== undefined) {
    if (typeof mentioned !== "boolean") return false
    checked.mentioned = mentioned
  }
  if (replyToId !== undefined) {
    if (!isId(replyToId)) return false
    checked.replyToId = replyToId as string
  }
  if (replyToText !== undefined) {
    if (typeof replyToText !== "string") return false
    checked.replyToText = replyToText
  }
  return true
}

/**
 * `Wire.decodeFrame` checks the common frame by hand (`src/internal/messageCheck.ts`) instead of
 * running the schema. These properties hold the two together on frames that are valid, nearly
 * valid and hostile: `decodeFrame` gives exactly what the schema gives — the same envelope, or
 * the same error sentence — and the hand-written checks never accept what the schema refuses.
 */
import { Result, Schema, SchemaIssue } from "effect"
import * as fc from "fast-check"
import { assert, describe, it } from "vitest"
import { CHECKED_EVENT_TYPES, checkMessage } from "../src/internal/messageCheck.ts"
import * as Protocol from "../src/Protocol.ts"

const schemaDecode = Schema.decodeUnknownResult(Protocol.Frame)
const formatIssue = SchemaIssue.makeFormatterDefault()

/** What the schema alone makes of a frame: the envelope, or the error sentence. */
const bySchema = (json: string) => {
  const result = schemaDecode(json)
  return Result.isSuccess(result) ? { ok: result.success } : { error: `Malformed frame: ${formatIssue(result.failure.issue)}` }
}
const byDecodeFrame = (json: string) => {
  const result = Protocol.decodeFrame(json)
  return Result.isSuccess(result) ? { ok: result.success } : { error: result.failure.message }
}

/** Objects built with `Object.fromEntries`, so a `__proto__` key is an own key, as JSON.parse makes it. */
const objectOf = (entries: Array<[string, fc.Arbitrary<unknown>]>, extra = true) =>
  fc.tuple(
    fc.tuple(...entries.map(([key, value]) => fc.option(value.map((v) => [key, v] as const), { nil: undefined }))),
    extra
      ? fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 6 }), fc.constant("__proto__")), fc.jsonValue({ maxDepth: 2 })), { maxLength: 2 })
      : fc.constant([])
  ).map(([typed, rest]) => Object.fromEntries([...rest, ...typed.filter((e) => e !== undefined)]))

const id = fc.oneof(fc.string({ maxLength: 8 }), fc.constant("x".repeat(256)), fc.constant("x".repeat(257)), fc.integer(), fc.constant(null))
const int = fc.oneof(fc.integer(), fc.constant(2 ** 53), fc.double({ noNaN: true }), fc.constant("1"), fc.constant(null))
const str = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null), fc.constant(["a"]))
/** A URL field of a media part (§8.1): a string, null, or something a careless server put there. */
const url = fc.oneof(fc.constantFrom("https://x.test/a.png", "data:image/png;base64,iVBORw0KGgo=", "ftp://x"), fc.constant(null), str)
const partType = fc.oneof(fc.constantFrom("output_text", "input_image", "input_file", "input_video", "input_audio"), str)
const contentPart = fc.oneof(
  objectOf([["type", partType], ["text", str], ["image_url", url], ["file_url", url], ["video_url", url], ["filename", url], ["detail", str]]),
  str
)
const item = fc.oneof(
  objectOf([["type", str], ["id", id], ["status", str], ["role", str], ["content", fc.oneof(fc.array(contentPart, { maxLength: 2 }), str)]]),
  str
)
const error = fc.oneof(fc.constant(null), objectOf([["code", str], ["message", str]]), str)
const snapshot = fc.oneof(objectOf([["id", id], ["status", str], ["error", error]]), str, fc.constant([]))

const eventTypes = [...Protocol.KNOWN_EVENT_TYPES, "response.reasoning.delta", "acme:typing", "message"]
const event = objectOf([
  ["type", fc.oneof(fc.constantFrom(...eventTypes), fc.integer())],
  ["sequence_number", int],
  ["event_id", id],
  ["response_id", id],
  ["item_id", id],
  ["output_index", int],
  ["content_index", int],
  ["delta", str],
  ["text", str],
  ["part", contentPart],
  ["item", item],
  ["response", snapshot]
])
const headers = fc.oneof(
  objectOf([
    ["messageId", id],
    ["timestamp", fc.oneof(fc.integer(), fc.double(), fc.constant("1"))],
    ["conversationId", id],
    ["senderId", id],
    ["senderName", str],
    ["chatType", fc.constantFrom("direct", "group", "channel", 1)],
    ["groupName", str],
    ["mentioned", fc.oneof(fc.boolean(), fc.constant("true"))],
    ["replyToId", id],
    ["replyToText", str]
  ]),
  str
)
const frame = fc.tuple(fc.constantFrom("message", "message", "presence"), headers, fc.oneof(event.map((e) => JSON.stringify(e)), fc.constant("{bad")))
  .map(([type, h, data]) => JSON.stringify({ type, headers: h, data }))

/** Valid frames with every field present: what the fast path is for. */
const validFrame = fc.record({
  type: fc.constantFrom(...Protocol.KNOWN_EVENT_TYPES),
  sequence: fc.nat(),
  text: fc.string({ maxLength: 20 })
}).map(({ type, sequence, text }) =>
  JSON.stringify({
    type: "message",
    headers: {
      messageId: `m${sequence}`,
      timestamp: 1,
      conversationId: "c",
      senderId: "u",
      senderName: "U",
      ...(sequence % 2 === 0 ? { chatType: "group", groupName: "G", mentioned: sequence % 4 === 0, replyToId: "resp_q", replyToText: "q" } : {})
    },
    data: JSON.stringify({
      type,
      sequence_number: sequence,
      event_id: `e${sequence}`,
      response_id: "r",
      item_id: "i",
      output_index: 0,
      content_index: 0,
      delta: text,
      text,
      part: sequence % 3 === 2
        ? { type: "input_image", image_url: sequence % 2 === 0 ? "https://x.test/a.png" : null, detail: "auto" }
        : { type: "output_text", text, annotations: [] },
      item: {
        type: "message",
        id: "i",
        status: "completed",
        role: "user",
        content: [
          { type: "output_text", text },
          ...(sequence % 3 === 0 ? [{ type: "input_image", image_url: "https://x.test/a.png", detail: "auto" }] : []),
          ...(sequence % 3 === 1 ? [{ type: "input_file", file_url: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" }, { type: "input_video", video_url: "https://x.test/v.mp4" }] : [])
        ]
      },
      response: { id: "r", object: "response", status: "completed", error: null, output: [] }
    })
  })
)

/** A value a hostile or careless server might put in any field. */
const hostile = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constant("x".repeat(256)),
  fc.constant("x".repeat(257)),
  fc.integer(),
  fc.double(),
  fc.constant(2 ** 53),
  fc.constant(null),
  fc.constant(true),
  fc.constant([]),
  fc.constant({}),
  fc.constant({ code: "c", message: "m" }),
  fc.constant({ code: "c", message: "m", extra: 1 }),
  fc.constant([{ type: "output_text", text: "t" }]),
  fc.constant([{ type: 1 }]),
  fc.constant(Object.fromEntries([["__proto__", { x: 1 }], ["type", "output_text"]]))
)

/** Paths into a valid frame (`h.` headers, otherwise the event) that a mutation may change. */
const PATHS = [
  "h.messageId", "h.timestamp", "h.conversationId", "h.senderId", "h.senderName", "h.extra",
  "h.chatType", "h.groupName", "h.mentioned", "h.replyToId", "h.replyToText",
  "type", "sequence_number", "event_id", "response_id", "item_id", "output_index", "content_index", "delta", "text", "extra",
  "part", "part.type", "part.text", "item", "item.type", "item.id", "item.status", "item.role", "item.content", "item.content.0",
  "item.content.0.text", "item.content.1", "item.content.1.type", "item.content.1.image_url", "item.content.1.file_url",
  "item.content.1.filename", "item.content.2.video_url", "part.image_url", "part.file_url", "part.video_url", "part.filename", "response", "response.id", "response.status", "response.error", "response.error.code", "response.error.extra"
]

const setPath = (root: Record<string, any>, path: ReadonlyArray<string>, value: unknown, remove: boolean) => {
  let target: any = root
  for (const key of path.slice(0, -1)) {
    if (typeof target[key] !== "object" || target[key] === null) target[key] = key === "content" ? [] : {}
    target = target[key]
  }
  const last = path.at(-1)!
  if (remove) delete target[last]
  else Object.defineProperty(target, last, { value, enumerable: true, writable: true, configurable: true })
}

/** A valid frame with one field changed to a hostile value, or removed. */
const nearlyValid = fc.tuple(validFrame, fc.constantFrom(...PATHS), hostile, fc.boolean()).map(([json, path, value, remove]) => {
  const envelope = JSON.parse(json)
  const event = JSON.parse(envelope.data)
  const [root, rest] = path.startsWith("h.") ? [envelope.headers, path.slice(2)] : [event, path]
  setPath(root, rest.split("."), value, remove)
  return JSON.stringify({ ...envelope, data: JSON.stringify(event) })
})

describe("Wire.decodeFrame's hand-written fast path", () => {
  it("gives what the schema gives, envelope or error sentence, on valid, nearly valid and hostile frames", () =>
    fc.assert(
      fc.property(fc.oneof(nearlyValid, frame, validFrame), (json) => {
        assert.deepStrictEqual(byDecodeFrame(json), bySchema(json))
      }),
      { numRuns: 5000 }
    ))

  it("never accepts what the schema refuses, and decodes to an equal value", () =>
    fc.assert(
      fc.property(fc.oneof(nearlyValid, frame), (json) => {
        const parsed = JSON.parse(json)
        let data: unknown
        try {
          data = JSON.parse(parsed.data)
        } catch {
          return
        }
        const checked = checkMessage(parsed.type, parsed.headers, data)
        if (checked === undefined) return
        const schema = schemaDecode(json)
        assert.isTrue(Result.isSuccess(schema), `the fast path accepted a frame the schema refuses: ${json}`)
        assert.deepStrictEqual<unknown>(checked, Result.getOrThrow(schema))
      }),
      { numRuns: 5000 }
    ))
  it("takes every valid frame the encoder and the reference server write", () =>
    fc.assert(
      fc.property(validFrame, (json) => {
        const parsed = JSON.parse(json)
        assert.isDefined(checkMessage(parsed.type, parsed.headers, JSON.parse(parsed.data)))
      })
    ))

  it("checks the same event types and id bound as the schema", () => {
    assert.deepStrictEqual([...CHECKED_EVENT_TYPES].sort(), [...Protocol.KNOWN_EVENT_TYPES].sort())
    const long = (n: number) => JSON.stringify({ type: "message", headers: { messageId: "x".repeat(n), timestamp: 1 }, data: JSON.stringify({ type: "acme:x" }) })
    const parsed = (n: number) => JSON.parse(long(n))
    assert.isDefined(checkMessage("message", parsed(Protocol.MAX_ID_LENGTH).headers, { type: "acme:x" }))
    assert.isUndefined(checkMessage("message", parsed(Protocol.MAX_ID_LENGTH + 1).headers, { type: "acme:x" }))
    assert.isTrue(Result.isFailure(Protocol.decodeFrame(long(Protocol.MAX_ID_LENGTH + 1))))
  })
})

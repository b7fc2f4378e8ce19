/**
 * Media on the wire (docs/PROTOCOL.md §8.1): the shared checks of `src/Media.ts`, the outbound
 * content parts (`ReplyEncoder`, every event valid against the vendored schema), and the inbound
 * assembly of media parts from content_part events and item snapshots, bad parts left out.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Buffer } from "node:buffer"
import * as Media from "../src/Media.ts"
import * as Protocol from "../src/Protocol.ts"
import { decodeMessage, eventsOf } from "./support/frames.ts"
import { validateEvent } from "./support/openResponsesSchema.ts"

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex")
const JPEG = Buffer.from("ffd8ffe000104a464946", "hex")
const pngUrl = Media.toDataUrl(PNG, "image/png")

const encoder = (options: Partial<Protocol.ReplyEncoderOptions> = {}) =>
  new Protocol.ReplyEncoder({ conversationId: "c", token: "t", startedAt: 1_732_500_000_000, model: "m", profile: "full", deltaSize: 50, ...options })

const image = (url: string): Media.ReplyMedia => ({ _tag: "Media", kind: "image", url })

/** What the assembler makes of frames: the messages and the violations' reasons and details. */
const assemble = (jsons: ReadonlyArray<string>, limits: Partial<Protocol.AssemblerLimits> = {}) => {
  const assembler = new Protocol.InboundAssembler({ ...Protocol.defaultLimits, ...limits })
  const outputs = jsons.flatMap((json) => assembler.push(decodeMessage(json), 0))
  return {
    messages: outputs.flatMap((o) => (o._tag === "Message" ? [o.message] : [])),
    refused: outputs.flatMap((o) => (o._tag === "Violation" ? [`${o.violation.reason}: ${o.violation.detail}`] : []))
  }
}

describe("Media: the shared checks", () => {
  it("allows https, loopback http and data: URLs, and nothing else", () => {
    assert.isUndefined(Media.checkUrl("https://cdn.example/a.png", "image"))
    assert.isUndefined(Media.checkUrl("http://127.0.0.1:8787/media/a", "image"))
    assert.isUndefined(Media.checkUrl("http://[::1]:80/a", "file"))
    assert.isUndefined(Media.checkUrl(pngUrl, "image"))
    assert.include(Media.checkUrl("http://example.com/a.png", "image"), "only https://, loopback http:// and data: URLs")
    assert.include(Media.checkUrl("ftp://example.com/a.png", "image"), "only https://")
    assert.include(Media.checkUrl("/relative/a.png", "image"), "not an absolute URL")
  })

  it("a data: URL must hold what its type says, in valid base64, and an image part an image", () => {
    assert.include(Media.checkUrl(Media.toDataUrl(JPEG, "image/png"), "image"), "says image/png but holds image/jpeg")
    assert.include(Media.checkUrl("data:image/png;base64,%%%", "image"), "not valid base64")
    assert.include(Media.checkUrl(Media.toDataUrl(PNG, "text/html"), "image"), "a data: URL of type text/html in an image part")
    // A type whose bytes this module cannot recognise is taken at its word.
    assert.isUndefined(Media.checkUrl(Media.toDataUrl(Buffer.from("hello"), "text/plain"), "file"))
    assert.isUndefined(Media.checkUrl("data:,hello%20there", "file"))
  })

  it("describes a URL without its bytes or query", () => {
    assert.strictEqual(Media.describeUrl(pngUrl), `a data: URL (image/png, ${PNG.length} bytes)`)
    assert.strictEqual(Media.describeUrl("https://cdn.example/a.png?token=s3cret"), "https://cdn.example/a.png")
    assert.notInclude(Media.checkUrl(Media.toDataUrl(JPEG, "image/png"), "image")!, JPEG.toString("base64"))
  })

  it("parses data: URLs, sizes them without decoding, and sniffs types", () => {
    const parsed = Media.parseDataUrl(pngUrl)!
    assert.deepStrictEqual([parsed.mimeType, parsed.base64], ["image/png", true])
    assert.strictEqual(Media.dataUrlSize(parsed), PNG.length)
    assert.deepStrictEqual(Buffer.from(Media.dataUrlBytes(parsed)!), PNG)
    assert.strictEqual(Media.dataUrlLength(PNG.length, "image/png"), pngUrl.length)
    assert.strictEqual(Media.sniffMimeType(JPEG), "image/jpeg")
    assert.isTrue(Media.bytesMatchMimeType(JPEG, "image/jpg"))
    assert.strictEqual(Media.filenameOf({ kind: "file", url: "https://x.test/docs/r%C3%A9sum%C3%A9.pdf" }), "résumé.pdf")
    assert.strictEqual(Media.filenameOf({ kind: "image", url: pngUrl }), "image")
  })
})

describe("ReplyEncoder: media after the text (§8.1)", () => {
  it("text, then an image and a file as content parts 1 and 2, each added and done; all in the snapshots; schema-valid", () => {
    const e = encoder()
    const frames = [
      ...e.begin(),
      ...e.media(image("https://cdn.example/cat.png")),
      ...e.text("Here you go"),
      ...e.media({ _tag: "Media", kind: "file", bytes: Buffer.from("%PDF-1.4"), mimeType: "application/pdf", filename: "r.pdf" }),
      ...e.media(image("https://cdn.example/cat.png")),
      ...e.complete()
    ]
    const events = eventsOf(frames)
    assert.deepStrictEqual(events.map((event) => [event.type, event.content_index ?? null]), [
      ["response.created", null],
      ["response.in_progress", null],
      ["response.output_item.added", null],
      ["response.content_part.added", 0],
      ["response.output_text.delta", 0],
      ["response.output_text.done", 0],
      ["response.content_part.done", 0],
      ["response.content_part.added", 1],
      ["response.content_part.done", 1],
      ["response.content_part.added", 2],
      ["response.content_part.done", 2],
      ["response.output_item.done", null],
      ["response.completed", null]
    ])
    const content = [
      { type: "output_text", text: "Here you go", annotations: [] },
      { type: "input_image", image_url: "https://cdn.example/cat.png", detail: "auto" },
      { type: "input_file", file_url: `data:application/pdf;base64,${Buffer.from("%PDF-1.4").toString("base64")}`, filename: "r.pdf" }
    ]
    assert.deepStrictEqual(events.at(-2)!.item.content, content)
    assert.deepStrictEqual(events.at(-1)!.response.output[0].content, content, "the same URL twice is sent once")
    assert.deepStrictEqual(events.flatMap((event) => validateEvent(event)), [])
  })

  it("a reply of media only completes, its parts from content_index 0; a video goes out as an input_file", () => {
    const e = encoder()
    const frames = [...e.media({ _tag: "Media", kind: "video", url: "https://cdn.example/clip.mp4" }), ...e.text("  "), ...e.complete()]
    const events = eventsOf(frames)
    assert.deepStrictEqual(events.map((event) => event.type), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed"
    ])
    assert.strictEqual(events[3].content_index, 0)
    assert.deepStrictEqual(events.at(-1)!.response.output[0].content, [{ type: "input_file", file_url: "https://cdn.example/clip.mp4", filename: "clip.mp4" }])
    assert.strictEqual(events.at(-1)!.response.status, "completed")
    assert.deepStrictEqual(events.flatMap((event) => validateEvent(event)), [])
  })

  it("the minimal profile sends each medium's content_part.done only", () => {
    const e = encoder({ profile: "minimal" })
    const types = eventsOf([...e.text("hi"), ...e.media(image("https://cdn.example/a.png")), ...e.complete()]).map((event) => event.type)
    assert.deepStrictEqual(types, [
      "response.in_progress",
      "response.output_item.added",
      "response.output_text.delta",
      "response.content_part.done",
      "response.content_part.done",
      "response.completed"
    ])
  })

  it("a user message (the reference server's) carries a video as input_video, in the item snapshots only", () => {
    const e = encoder({ role: "user" })
    const events = eventsOf([...e.text("look"), ...e.media({ _tag: "Media", kind: "video", url: "https://cdn.example/v.mp4" }), ...e.complete()])
    assert.notInclude(events.map((event) => event.part?.type), "input_video")
    assert.deepStrictEqual(events.at(-1)!.response.output[0].content[1], { type: "input_video", video_url: "https://cdn.example/v.mp4" })
    assert.deepStrictEqual(events.flatMap((event) => validateEvent(event)), [])
  })
})

describe("InboundAssembler: a user message's media (§8.1)", () => {
  const base = { response_id: "resp_u" }

  it("media from the encoder come back in order beside the text, and a video from the snapshots", () => {
    const e = encoder({ role: "user" })
    const frames = [
      ...e.text("three things"),
      ...e.media({ _tag: "Media", kind: "file", url: "https://cdn.example/r.pdf", filename: "report.pdf" }),
      ...e.media({ _tag: "Media", kind: "video", url: "https://cdn.example/v.mp4" }),
      ...e.media(image(pngUrl)),
      ...e.complete()
    ]
    const { messages, refused } = assemble(frames.map((frame) => frame.json))
    assert.deepStrictEqual(refused, [])
    assert.strictEqual(messages[0]!.text, "three things")
    assert.deepStrictEqual(messages[0]!.media, [
      { kind: "file", url: "https://cdn.example/r.pdf", filename: "report.pdf" },
      { kind: "video", url: "https://cdn.example/v.mp4" },
      { kind: "image", url: pngUrl, mimeType: "image/png" }
    ])
  })

  it("a message of media only is delivered with text \"\"; a text-only message has no media key", () => {
    const e = encoder({ role: "user" })
    const { messages } = assemble([...e.media(image("https://cdn.example/a.png")), ...e.complete()].map((frame) => frame.json))
    assert.deepStrictEqual([messages[0]!.text, messages[0]!.media], ["", [{ kind: "image", url: "https://cdn.example/a.png" }]])
    const t = encoder({ role: "user", token: "u" })
    const [plain] = assemble([...t.text("only words"), ...t.complete()].map((frame) => frame.json)).messages
    assert.isFalse("media" in plain!)
  })

  it("the snapshots alone are enough: media from response.completed, when no part event carried them", () => {
    const frames = [
      JSON.stringify({ type: "message", headers: { messageId: "m0", timestamp: 1, conversationId: "c" }, data: JSON.stringify({ type: "response.in_progress", sequence_number: 0, ...base }) }),
      JSON.stringify({
        type: "message",
        headers: { messageId: "m1", timestamp: 1, conversationId: "c" },
        data: JSON.stringify({
          type: "response.completed",
          sequence_number: 1,
          ...base,
          response: { id: "resp_u", output: [{ type: "message", id: "i", role: "user", content: [{ type: "input_image", image_url: "https://cdn.example/only.png", detail: "auto" }] }] }
        })
      })
    ]
    const { messages } = assemble(frames)
    assert.deepStrictEqual(messages[0]!.media, [{ kind: "image", url: "https://cdn.example/only.png" }])
  })

  it("bad parts are left out with a sentence each (no bytes), and the rest of the message is delivered", () => {
    const mismatched = Media.toDataUrl(JPEG, "image/png")
    const parts = [
      { type: "output_text", text: "see these", annotations: [] },
      { type: "input_image", image_url: "ftp://old.example/a.png", detail: "auto" },
      { type: "input_image", image_url: mismatched, detail: "auto" },
      { type: "input_audio", audio_url: "https://cdn.example/a.mp3" },
      { type: "input_file", filename: "nothing.pdf" },
      { type: "input_image", image_url: "https://cdn.example/good.png", detail: "auto" }
    ]
    const e = (seq: number, event: Record<string, unknown>) =>
      JSON.stringify({ type: "message", headers: { messageId: `m${seq}`, timestamp: 1, conversationId: "c" }, data: JSON.stringify({ sequence_number: seq, ...base, ...event }) })
    const frames = [
      e(0, { type: "response.created", response: { id: "resp_u" } }),
      ...parts.flatMap((part, i) => [
        e(1 + i * 2, { type: "response.content_part.added", item_id: "i", output_index: 0, content_index: i, part: i === 0 ? { ...part, text: "" } : part }),
        e(2 + i * 2, { type: "response.content_part.done", item_id: "i", output_index: 0, content_index: i, part })
      ]),
      e(20, { type: "response.output_item.done", output_index: 0, item: { type: "message", id: "i", status: "completed", role: "user", content: parts } }),
      e(21, { type: "response.completed", response: { id: "resp_u", output: [{ type: "message", id: "i", role: "user", content: parts }] } })
    ]
    const { messages, refused } = assemble(frames)
    assert.strictEqual(messages[0]!.text, "see these")
    assert.deepStrictEqual(messages[0]!.media, [{ kind: "image", url: "https://cdn.example/good.png" }])
    assert.deepStrictEqual(refused, [
      "MediaRefused: input_image part at content_index 1: ftp://old.example/a.png: only https://, loopback http:// and data: URLs are allowed; left out",
      "MediaRefused: input_image part at content_index 2: a data: URL that says image/png but holds image/jpeg; left out",
      "MediaRefused: \"input_audio\" part at content_index 3: not a part type this connector reads; left out",
      "MediaRefused: input_file part at content_index 4: no URL; left out"
    ], "one sentence per part, however many events carried it")
    assert.notInclude(refused.join("\n"), JPEG.toString("base64").slice(0, 8))
  })

  it("media past the per-message limit are left out, once, and the message is delivered", () => {
    const e = encoder({ role: "user" })
    const big = Media.toDataUrl(Buffer.concat([PNG, Buffer.alloc(2000)]), "image/png")
    const frames = [...e.text("two pictures"), ...e.media(image("https://cdn.example/small.png")), ...e.media(image(big)), ...e.complete()]
    const { messages, refused } = assemble(frames.map((frame) => frame.json), { maxMediaBytes: 1000 })
    assert.deepStrictEqual(messages[0]!.media, [{ kind: "image", url: "https://cdn.example/small.png" }])
    assert.deepStrictEqual(refused, ["MediaRefused: 1 media part(s) past the limit of 1000 bytes of media per message; left out"])
  })

  it("a completed response with neither text nor usable media is still empty", () => {
    const e = encoder({ role: "user" })
    const { messages, refused } = assemble([...e.media(image("ftp://x/a.png")), ...e.complete()].map((frame) => frame.json))
    assert.deepStrictEqual(messages, [])
    assert.deepStrictEqual(refused.map((line) => line.split(":")[0]), ["MediaRefused", "EmptyMessage"])
  })
})

describe("Protocol.writeReply with resolveMedia", () => {
  it.effect("each medium goes through the resolver; a sentence it gives instead becomes text, and a media-only reply completes", () =>
    Effect.gen(function*() {
      const protocol = Protocol.make()
      const resolved: Array<string> = []
      const batches: Array<ReadonlyArray<Protocol.OutboundFrame>> = []
      const outcome = yield* protocol.writeReply(
        {
          conversationId: "c",
          resolveMedia: (media) =>
            Effect.sync(() => {
              resolved.push(media.kind)
              return media.kind === "image" ? [media] : ["[The file could not be sent.]"]
            })
        },
        Stream.make<ReadonlyArray<Protocol.ReplyPiece>>(image("https://cdn.example/a.png"), { _tag: "Media", kind: "file", bytes: new Uint8Array(3) }),
        (frames) => Effect.sync(() => void batches.push(frames))
      )
      assert.deepStrictEqual(outcome, { _tag: "Completed" })
      assert.deepStrictEqual(resolved, ["image", "file"])
      const events = eventsOf(batches.flat())
      assert.deepStrictEqual(events.at(-1)!.response.output[0].content, [
        { type: "output_text", text: "[The file could not be sent.]", annotations: [] },
        { type: "input_image", image_url: "https://cdn.example/a.png", detail: "auto" }
      ])
      const mediaOnly = yield* protocol.writeReply({ conversationId: "c" }, Stream.make(image("https://cdn.example/b.png")), () => Effect.void)
      assert.deepStrictEqual(mediaOnly, { _tag: "Completed" })
    }))
})

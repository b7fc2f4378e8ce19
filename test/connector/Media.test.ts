/**
 * Where an outbound medium's bytes live (docs/PROTOCOL.md §8.1, `src/connector/Media.ts`): a URL
 * as it is, bytes inline within the server's frame limit, else uploaded, else a sentence in the
 * reply — and never a byte or the secret in a log line.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Logger, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { Buffer } from "node:buffer"
import { makeMedia, type MediaLink, type Upload, UploadError, type UploadRequest } from "../../src/connector/Media.ts"
import type { ReplyMedia } from "../../src/Media.ts"

const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(200, 7)])
const SECRET = "media-secret-42"

/** A resolver over a fixed link, with the uploads it made and the log lines it said. */
const setup = (link: MediaLink, upload?: Upload) => {
  const uploads: Array<UploadRequest> = []
  const logs: Array<string> = []
  const media = makeMedia({
    clientId: "demo",
    clientSecret: Redacted.make(SECRET),
    link: Effect.succeed(link),
    upload: (request) => {
      uploads.push(request)
      return upload === undefined ? Effect.succeed("https://files.example/u/1.png") : upload(request)
    }
  })
  const logger = Logger.make(({ message }) => void logs.push((Array.isArray(message) ? message : [message]).map(String).join(" ")))
  const run = <A, E>(effect: Effect.Effect<A, E>) => effect.pipe(Effect.provide(Logger.layer([logger])))
  return { resolve: media.forReply(), media, uploads, logs, run }
}

const bytes = (size: number, extra: Partial<ReplyMedia> = {}): ReplyMedia => ({
  _tag: "Media",
  kind: "image",
  bytes: Buffer.concat([PNG, Buffer.alloc(Math.max(0, size - PNG.length))]),
  filename: "cat.png",
  ...extra
})

describe("connector/Media: outbound media", () => {
  it.effect("an https or loopback http URL goes out as it is; any other URL becomes a sentence", () =>
    Effect.gen(function*() {
      const { logs, resolve, run } = setup({})
      const https: ReplyMedia = { _tag: "Media", kind: "image", url: "https://cdn.example/a.png" }
      assert.deepStrictEqual(yield* run(resolve(https)), [https])
      const loopback: ReplyMedia = { _tag: "Media", kind: "file", url: "http://127.0.0.1:9/f.pdf" }
      assert.deepStrictEqual(yield* run(resolve(loopback)), [loopback])
      const plain = yield* run(resolve({ _tag: "Media", kind: "image", url: "http://example.com/a.png?sig=abc", filename: "a.png" }))
      assert.deepStrictEqual(plain, ["\n\n[The image \"a.png\" could not be sent.]"])
      assert.include(logs.join("\n"), "Could not send an image: http://example.com/a.png: only https://")
      assert.notInclude(logs.join("\n"), "sig=abc")
    }))

  it.effect("bytes within the frame limit go inline as a data: URL, with their type sniffed when not given", () =>
    Effect.gen(function*() {
      const { resolve, run, uploads } = setup({ upload: { url: "https://up.example/u" } })
      const [piece] = yield* run(resolve(bytes(300)))
      const media = piece as ReplyMedia
      assert.isTrue(media.url!.startsWith("data:image/png;base64,"))
      assert.isUndefined(media.bytes)
      assert.strictEqual(media.mimeType, "image/png")
      assert.deepStrictEqual(Buffer.from(media.url!.split(",")[1]!, "base64"), bytes(300).bytes)
      assert.strictEqual(uploads.length, 0)
    }))

  it.effect("past the server's maxFrameBytes (the reply's inline media summed), bytes are uploaded with the credentials and type", () =>
    Effect.gen(function*() {
      const { logs, resolve, run, uploads } = setup({ maxFrameBytes: 200_000, upload: { url: "https://up.example/u" } })
      const first = yield* run(resolve(bytes(80_000)))
      assert.isTrue((first[0] as ReplyMedia).url!.startsWith("data:"), "the first fits")
      const second = yield* run(resolve(bytes(80_000)))
      assert.deepStrictEqual(second, [{ _tag: "Media", kind: "image", filename: "cat.png", url: "https://files.example/u/1.png", mimeType: "image/png" }])
      assert.strictEqual(uploads.length, 1)
      assert.deepStrictEqual(uploads[0]!.headers, { "x-app-key": "demo", "x-app-secret": SECRET, "content-type": "image/png" })
      assert.strictEqual(uploads[0]!.url, "https://up.example/u")
      assert.notInclude(logs.join("\n"), SECRET)
    }))

  it.effect("too large with no upload offered: the reply says so and the log says why, without bytes", () =>
    Effect.gen(function*() {
      const { logs, resolve, run } = setup({})
      const pieces = yield* run(resolve(bytes(2 * 1024 * 1024)))
      assert.deepStrictEqual(pieces, ["\n\n[The image \"cat.png\" could not be sent.]"])
      const line = logs.join("\n")
      assert.include(line, "Could not send an image (cat.png, 2097152 bytes, image/png): it is too large to send inline (frames up to 1048576 bytes) and the server offers no upload")
      assert.notInclude(line, PNG.toString("base64").slice(0, 12))
    }))

  it.effect("an upload URL that is not https gets no credentials; a failed or slow upload becomes a sentence", () =>
    Effect.gen(function*() {
      const plain = setup({ maxFrameBytes: 1000, upload: { url: "http://uploads.example/u" } })
      assert.deepStrictEqual(yield* plain.run(plain.resolve(bytes(5000))), ["\n\n[The image \"cat.png\" could not be sent.]"])
      assert.strictEqual(plain.uploads.length, 0)
      assert.include(plain.logs.join("\n"), "the server's upload URL is not https:// (http://uploads.example/u)")

      const refused = setup({ maxFrameBytes: 1000, upload: { url: "https://up.example/u" } }, () => Effect.fail(new UploadError({ message: "the server answered HTTP 413" })))
      assert.deepStrictEqual(yield* refused.run(refused.resolve(bytes(5000))), ["\n\n[The image \"cat.png\" could not be sent.]"])
      assert.include(refused.logs.join("\n"), "the upload to https://up.example/u failed: the server answered HTTP 413")

      const wrongAnswer = setup({ maxFrameBytes: 1000, upload: { url: "https://up.example/u" } }, () => Effect.succeed("ftp://x/y"))
      assert.deepStrictEqual((yield* wrongAnswer.run(wrongAnswer.resolve(bytes(5000)))).length, 1)
      assert.include(wrongAnswer.logs.join("\n"), "the server answered with ftp://x/y")

      const slow = setup({ maxFrameBytes: 1000, upload: { url: "https://up.example/u" } }, () => Effect.never)
      const fiber = yield* Effect.forkChild(slow.run(slow.resolve(bytes(5000))))
      yield* TestClock.adjust("60 seconds")
      assert.deepStrictEqual(yield* Fiber.join(fiber), ["\n\n[The image \"cat.png\" could not be sent.]"])
      assert.include(slow.logs.join("\n"), "no answer within 1m")
    }))

  it.effect("a data: URL from the agent is bytes like any other: inline when it fits, else uploaded", () =>
    Effect.gen(function*() {
      const { resolve, run, uploads } = setup({ maxFrameBytes: 1000, upload: { url: "https://up.example/u" } })
      const big: ReplyMedia = { _tag: "Media", kind: "image", url: `data:image/png;base64,${Buffer.from(bytes(5000).bytes!).toString("base64")}` }
      const [piece] = yield* run(resolve(big))
      assert.strictEqual((piece as ReplyMedia).url, "https://files.example/u/1.png")
      assert.strictEqual(uploads[0]!.bytes.byteLength, 5000)
    }))
})

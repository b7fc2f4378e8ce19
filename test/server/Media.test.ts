/**
 * The reference server's media (docs/PROTOCOL.md §8.1), over real sockets on 127.0.0.1: uploads
 * on its own port (credentials checked, bounded), served back; its hello offers the upload URL to
 * a client that agreed on media; user messages carry media parts, only to such a client.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Buffer } from "node:buffer"
import * as Protocol from "../../src/Protocol.ts"
import { serveMedia } from "../../src/server/MediaStore.ts"
import { FeatureNotAgreedError } from "../../src/server/ReferenceServer.ts"
import { startServer, waitFor } from "../support/harness.ts"
import { validateEvent } from "../support/openResponsesSchema.ts"
import { envelopeOf, plainClient } from "./client.ts"

const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.from("the rest of a tiny picture")])

const post = (url: string, body: Uint8Array, headers: Record<string, string>) =>
  Effect.promise(async () => {
    const response = await fetch(url, { method: "POST", body: body as Uint8Array<ArrayBuffer>, headers })
    return { status: response.status, body: await response.text() }
  })
const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, type: response.headers.get("content-type"), bytes: Buffer.from(await response.arrayBuffer()) }
  })

const credentials = { "x-app-key": "demo", "x-app-secret": "demo-secret" }

describe("ReferenceServer: media", () => {
  it.effect("takes an upload with the account's credentials on its own port, and serves it back on 127.0.0.1", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      assert.strictEqual(server.uploadUrl, `http://127.0.0.1:${server.port}/upload`)
      const refused = yield* post(server.uploadUrl, PNG, { "x-app-key": "demo", "x-app-secret": "wrong", "content-type": "image/png" })
      assert.strictEqual(refused.status, 401)
      assert.deepStrictEqual(yield* waitFor(events, "UploadRefused"), { _tag: "UploadRefused", status: 401 })

      const answer = yield* post(server.uploadUrl, PNG, { ...credentials, "content-type": "image/png" })
      assert.strictEqual(answer.status, 201)
      const { url } = JSON.parse(answer.body) as { url: string }
      assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/media/[\\w-]+$`))
      assert.deepStrictEqual(yield* waitFor(events, "Uploaded"), { _tag: "Uploaded", clientId: "demo", url, bytes: PNG.length, mimeType: "image/png" })
      const served = yield* get(url)
      assert.deepStrictEqual([served.status, served.type], [200, "image/png"])
      assert.deepStrictEqual(served.bytes, PNG)
      assert.strictEqual((yield* get(`http://127.0.0.1:${server.port}/media/nothing-here`)).status, 404)

      const own = yield* server.putMedia(PNG, "image/png")
      assert.deepStrictEqual((yield* get(own)).bytes, PNG)
    }))

  it.effect("an upload past the limit is refused with 413; the oldest media go when the store is full", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const store = yield* serveMedia({
        host: "127.0.0.1",
        port: 0,
        authorize: () => "demo",
        onEvent: (event) => void seen.push(event._tag === "UploadRefused" ? `refused ${event.status}` : `uploaded ${event.bytes}`),
        maxUploadBytes: 100,
        maxStoredBytes: 150
      })
      assert.strictEqual((yield* post(store.uploadUrl, Buffer.alloc(101), credentials)).status, 413)
      const first = store.put(Buffer.alloc(100, 1), "application/octet-stream")
      const second = JSON.parse((yield* post(store.uploadUrl, Buffer.alloc(100, 2), credentials)).body).url as string
      assert.deepStrictEqual(seen, ["refused 413", "uploaded 100"])
      assert.strictEqual((yield* get(first)).status, 404, "let go for the newer one")
      assert.deepStrictEqual((yield* get(second)).bytes, Buffer.alloc(100, 2))
    }))

  it.effect("the hello offers upload.url and maxFrameBytes only to a client that agreed on media", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer({ maxFrameBytes: 65_536 })
      const withMedia = yield* plainClient(server.url, { hello: ["ack", "media"] })
      const hello = envelopeOf((yield* withMedia.take(1))[0]!) as Protocol.HelloEnvelope
      assert.deepStrictEqual(hello.data, { protocol: 2, features: ["ack", "media"], upload: { url: server.uploadUrl }, maxFrameBytes: 65_536 })
      const without = yield* plainClient(server.url, { hello: ["ack"] })
      assert.deepStrictEqual((envelopeOf((yield* without.take(1))[0]!) as Protocol.HelloEnvelope).data, { protocol: 2, features: ["ack"] })
    }))

  it.effect("a user message carries its media after the text (a video in the snapshots only), schema-valid; refused to a client without media", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer()
      const image = yield* server.putMedia(PNG, "image/png")
      const media = [{ kind: "image" as const, url: image }, { kind: "video" as const, url: "https://cdn.example/v.mp4" }]

      const without = yield* plainClient(server.url, { hello: ["ack"] })
      yield* without.take(1)
      const refused = yield* Effect.flip(server.sendUserMessage({ conversationId: "c", text: "look", media }))
      assert.instanceOf(refused, FeatureNotAgreedError)
      assert.strictEqual((refused as FeatureNotAgreedError).feature, "media")
      assert.strictEqual(yield* server.unacknowledged, 0, "nothing kept")
      yield* without.close

      const client = yield* plainClient(server.url, { hello: ["ack", "media"] })
      yield* client.take(1)
      const { responseId } = yield* server.sendUserMessage({ conversationId: "c", text: "look", media })
      const events = (yield* client.take(11)).map((frame) => (envelopeOf(frame) as Protocol.MessageEnvelope).data as Record<string, any>)
      assert.deepStrictEqual(events.map((event) => `${event.type}${event.content_index === undefined ? "" : ` ${event.content_index}`}`), [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added 0",
        "response.output_text.delta 0",
        "response.output_text.done 0",
        "response.content_part.done 0",
        "response.content_part.added 1",
        "response.content_part.done 1",
        "response.output_item.done",
        "response.completed"
      ])
      assert.deepStrictEqual(events.at(-1)!.response.output[0].content.slice(1), [
        { type: "input_image", image_url: image, detail: "auto" },
        { type: "input_video", video_url: "https://cdn.example/v.mp4" }
      ])
      assert.deepStrictEqual(events.flatMap((event) => validateEvent(event as { type: string })), [])
      assert.isTrue(events.every((event) => event.response_id === responseId))

      // Media only: no text part at all.
      yield* server.sendUserMessage({ conversationId: "c", text: "", media: [media[0]!] })
      const only = (yield* client.take(7)).map((frame) => ((envelopeOf(frame) as Protocol.MessageEnvelope).data as { type: string }).type)
      assert.notInclude(only, "response.output_text.delta")
      assert.strictEqual(only.at(-1), "response.completed")
    }))
})

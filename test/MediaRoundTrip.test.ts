/**
 * Media through the real connector and the reference server (docs/PROTOCOL.md §8.1), over
 * 127.0.0.1: an image the server serves itself goes to the echo agent and comes back by URL; an
 * agent's bytes go inline when the frame allows and are uploaded to the server when it does not;
 * `Connector.send` sends media too. Nothing leaves this machine.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { Buffer } from "node:buffer"
import { Agent } from "../src/Agent.ts"
import type { ReplyMedia } from "../src/Media.ts"
import { startConnector, startServer, waitFor } from "./support/harness.ts"

const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.from("a picture, as far as anyone checks")])

const fetchBytes = (url: string) => Effect.promise(async () => Buffer.from(await (await fetch(url)).arrayBuffer()))

/** The server and a connector with `agent`, once the connector's hello agreed on media. */
const connected = (agent: Layer.Layer<Agent>, serverOptions: Parameters<typeof startServer>[0] = {}) =>
  Effect.gen(function*() {
    const { events, server } = yield* startServer(serverOptions)
    const { connector, logs } = yield* startConnector(server.url, agent)
    const hello = yield* waitFor(events, "Hello")
    assert.include(hello.features, "media")
    return { connector, events, logs, server }
  })

describe("media through the connector and the reference server", () => {
  it.effect("echo: an image the server serves itself goes to the agent and comes back by URL, after the text", () =>
    Effect.gen(function*() {
      const { events, server } = yield* connected(Agent.echo)
      const url = yield* server.putMedia(PNG, "image/png")
      yield* server.sendUserMessage({ conversationId: "conv_img", text: "what is this?", media: [{ kind: "image", url }] })
      const reply = yield* waitFor(events, "ReplyCompleted", (event) => event.conversationId === "conv_img")
      assert.strictEqual(reply.text, "what is this?")
      assert.deepStrictEqual(reply.media, [{ kind: "image", url }])
      assert.deepStrictEqual(yield* fetchBytes(reply.media![0]!.url), PNG, "the same bytes, from 127.0.0.1")
    }))

  it.effect("echo: a message of media only gets a reply of media only, completed", () =>
    Effect.gen(function*() {
      const { events, server } = yield* connected(Agent.echo)
      const url = yield* server.putMedia(Buffer.from("%PDF-1.4 a report"), "application/pdf")
      yield* server.sendUserMessage({ conversationId: "conv_pdf", text: "", media: [{ kind: "file", url, filename: "report.pdf" }] })
      const reply = yield* waitFor(events, "ReplyCompleted", (event) => event.conversationId === "conv_pdf")
      assert.strictEqual(reply.text, "")
      assert.deepStrictEqual(reply.media, [{ kind: "file", url, filename: "report.pdf" }])
    }))

  it.effect("an agent's bytes go inline within the frame limit and are uploaded past it; the log never holds them", () =>
    Effect.gen(function*() {
      const large = Buffer.concat([PNG, Buffer.alloc(100_000, 1)])
      const agent = Agent.layer((request) =>
        Stream.make<ReadonlyArray<string | ReplyMedia>>(
          `here are ${request.text}`,
          { _tag: "Media", kind: "image", bytes: PNG, filename: "small.png" },
          { _tag: "Media", kind: "image", bytes: large, mimeType: "image/png", filename: "large.png" }
        )
      )
      const { events, logs, server } = yield* connected(agent, { maxFrameBytes: 128 * 1024 })
      yield* server.sendUserMessage({ conversationId: "conv_up", text: "two pictures" })
      const uploaded = yield* waitFor(events, "Uploaded")
      assert.deepStrictEqual([uploaded.clientId, uploaded.bytes, uploaded.mimeType], ["demo", large.length, "image/png"])
      const reply = yield* waitFor(events, "ReplyCompleted", (event) => event.conversationId === "conv_up")
      assert.strictEqual(reply.text, "here are two pictures")
      assert.deepStrictEqual(reply.media?.map((media) => media.url.slice(0, 22)), ["data:image/png;base64,", uploaded.url.slice(0, 22)])
      assert.deepStrictEqual(Buffer.from(reply.media![0]!.url.split(",")[1]!, "base64"), PNG)
      assert.strictEqual(reply.media![1]!.url, uploaded.url)
      assert.deepStrictEqual(yield* fetchBytes(uploaded.url), large)
      assert.notInclude(logs.text(), large.toString("base64").slice(0, 40))
      assert.notInclude(logs.text(), "demo-secret")
    }))

  it.effect("Connector.send sends media after the text, and media alone", () =>
    Effect.gen(function*() {
      const { connector, events, server } = yield* connected(Agent.echo)
      const url = yield* server.putMedia(PNG, "image/png")
      yield* connector.send("conv_out", "from the host", [{ _tag: "Media", kind: "image", url }])
      const reply = yield* waitFor(events, "ReplyCompleted", (event) => event.conversationId === "conv_out")
      assert.deepStrictEqual([reply.text, reply.media], ["from the host", [{ kind: "image", url }]])
      yield* connector.send("conv_out", " ", [{ _tag: "Media", kind: "file", bytes: Buffer.from("%PDF-1.4"), mimeType: "application/pdf", filename: "a.pdf" }])
      const alone = yield* waitFor(events, "ReplyCompleted", (event) => event.conversationId === "conv_out")
      assert.strictEqual(alone.text, "")
      assert.strictEqual(alone.media?.[0]?.url, `data:application/pdf;base64,${Buffer.from("%PDF-1.4").toString("base64")}`)
    }))
})

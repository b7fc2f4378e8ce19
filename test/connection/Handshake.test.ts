/**
 * Protocol v2's handshake (`src/connection/Handshake.ts`, docs/PROTOCOL.md §6–§7): what two hellos
 * agree on, acks only on a link that agreed on `ack`, and — through the whole connector over the
 * fake dialer — a v1 server that sees today's frames after the one hello it ignores, and a v2
 * server that gets one ack per answered message, after its reply.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import { Agent } from "../../src/Agent.ts"
import { ConnectorConfig } from "../../src/Config.ts"
import { makeHandshake, V1 } from "../../src/connection/Handshake.ts"
import type { Link } from "../../src/connection/Link.ts"
import { Connector } from "../../src/Connector.ts"
import * as InstaClaw from "../../src/InstaClaw.ts"
import { LogSink } from "../../src/Logger.ts"
import { fakeDialer, type FakeSocket } from "../../src/testing/FakeDialer.ts"
import { userMessageFrames } from "../../src/testing/Frames.ts"
import * as Wire from "../../src/Wire.ts"

/** A link that keeps what it is given. */
const fakeLink = (generation: number) => {
  const written: Array<string> = []
  const link: Link = {
    generation,
    writeAll: (frames) => Effect.sync(() => void written.push(...frames.map(String))),
    tryWriteAll: (frames) => (written.push(...frames.map(String)), true),
    confirm: Effect.void,
    confirmThen: (done) => done(true),
    isOpen: () => true,
    drop: Effect.void
  }
  return { link, written }
}

const target = { conversationId: "conv_1", responseId: "resp_user_1" }
const parse = (json: string) => JSON.parse(json) as { readonly type: string; readonly headers: Record<string, unknown>; readonly data: string }

describe("Handshake", () => {
  it("the client's hello: protocol 2 and the features it offers", () => {
    const hello = parse(new TextDecoder().decode(makeHandshake({ token: "tok" }).hello(1_700_000_000_000)))
    assert.strictEqual(hello.type, "hello")
    assert.match(String(hello.headers.messageId), /^msg_1700000000000_tok/)
    assert.deepStrictEqual(JSON.parse(hello.data), { protocol: 2, features: ["ack", "media", "groups"] })
  })

  it("a feature is used only when both hellos list it; unknown ones are ignored", () => {
    const handshake = makeHandshake({ token: "t", offered: ["ack", "media"] })
    assert.deepStrictEqual(handshake.onServerHello(1, { protocol: 2, features: ["groups", "media", "teleport"] }), { protocol: 2, features: ["media"] })
  })

  it("the server's upload URL and frame limit are kept when its hello gives them (§8.1)", () => {
    const handshake = makeHandshake({ token: "t" })
    const hello = { protocol: 2, features: ["media"], upload: { url: "https://up.example/u", extra: 1 }, maxFrameBytes: 4096 }
    assert.deepStrictEqual(handshake.onServerHello(1, hello), { protocol: 2, features: ["media"], upload: { url: "https://up.example/u" }, maxFrameBytes: 4096 })
  })

  it.effect("acks go out only on the link whose server agreed on ack; v1 and other links get none", () =>
    Effect.gen(function*() {
      const handshake = makeHandshake({ token: "t" })
      const first = fakeLink(1)
      assert.isFalse(handshake.decided(1))
      assert.strictEqual(yield* handshake.acknowledge(first.link, [target], 5), 0, "before the server's hello: v1")
      handshake.onServerHello(1, { protocol: 2, features: ["ack"] })
      assert.strictEqual(yield* handshake.acknowledge(first.link, [target], 5), 1)
      const ack = parse(first.written[0]!)
      assert.deepStrictEqual([ack.type, ack.headers.conversationId, JSON.parse(ack.data)], ["ack", "conv_1", { response_id: "resp_user_1" }])

      const second = fakeLink(2)
      assert.strictEqual(yield* handshake.acknowledge(second.link, [target], 5), 0, "a new link is v1 until its own hello")
      handshake.takeForV1(2)
      assert.isTrue(handshake.decided(2))
      assert.strictEqual(yield* handshake.acknowledge(second.link, [target], 5), 0)
      handshake.onServerHello(2, { protocol: 2, features: [] })
      assert.strictEqual(yield* handshake.acknowledge(second.link, [target], 5), 0, "a v2 server without ack")
      assert.deepStrictEqual(second.written, [])
      // V1 is also the status patch of a new link: it clears the last hello's upload and limit.
      assert.deepStrictEqual(V1, { protocol: 1, features: [], upload: undefined, maxFrameBytes: undefined })
    }))
})

/** The whole connector with the echo agent over one fake socket. */
const withConnector = <A>(body: (socket: FakeSocket, connector: Connector["Service"]) => Effect.Effect<A>) =>
  Effect.gen(function*() {
    const dial = fakeDialer((socket) => socket.open())
    const layer = InstaClaw.layerWithConfig.pipe(
      Layer.provide(dial.layer),
      Layer.provide(Agent.echo),
      Layer.provideMerge(ConnectorConfig.layerFromInput({ url: "ws://127.0.0.1:1/user-ws/", clientId: "demo", clientSecret: "demo-secret" })),
      Layer.provide(Layer.succeed(LogSink, { info: () => {}, warn: () => {}, error: () => {} }))
    )
    const connector = Context.get(yield* Layer.build(layer), Connector)
    yield* connector.statusChanges.pipe(Stream.filter((s) => s.state === "connected"), Stream.runHead)
    return yield* body(dial.sockets[0]!, connector)
  })

const settle = Effect.gen(function*() {
  for (let i = 0; i < 30; i++) yield* Effect.yieldNow
})

const say = (socket: FakeSocket, i: number) => {
  for (const frame of userMessageFrames({ conversationId: "conv_1", responseId: `resp_user_${i}`, pieces: [`hello ${i}`] })) socket.receive(frame)
}

describe("the connector and the server's protocol", () => {
  it.effect("a v1 server: the hello is the only frame more than before, no ack ever, status protocol 1", () =>
    withConnector((socket, connector) =>
      Effect.gen(function*() {
        say(socket, 1)
        yield* settle
        const types = socket.sent.map((json) => parse(json).type)
        assert.strictEqual(types[0], "hello")
        assert.deepStrictEqual(types.slice(1), socket.messages.map(() => "message"), "then message envelopes only")
        const events = socket.messages.map((json) => JSON.parse(parse(json).data).type)
        assert.deepStrictEqual(events.at(0), "response.created")
        assert.deepStrictEqual(events.at(-1), "response.completed")
        const status = yield* connector.status
        assert.deepStrictEqual([status.protocol, status.features], [1, []])
      })))

  it.effect("a v2 server: the hellos agree on ack; each answered message is acknowledged once, after its reply", () =>
    withConnector((socket, connector) =>
      Effect.gen(function*() {
        socket.receive(Wire.helloFrame({ messageId: "msg_1_h", timestamp: 1, features: ["ack", "upload-later"] }))
        yield* settle
        const status = yield* connector.status
        assert.deepStrictEqual([status.protocol, status.features], [2, ["ack"]])
        say(socket, 1)
        say(socket, 2)
        yield* settle
        const kinds = socket.sent.map((json) => {
          const envelope = parse(json)
          return envelope.type === "message" ? JSON.parse(envelope.data).type : envelope.type
        })
        const acks = socket.sent.filter((json) => parse(json).type === "ack").map((json) => JSON.parse(parse(json).data).response_id)
        assert.deepStrictEqual(acks.sort(), ["resp_user_1", "resp_user_2"])
        assert.isAbove(kinds.indexOf("ack"), kinds.lastIndexOf("response.completed"), "acks after the replies")

        // The server sends message 1 again: acknowledged again, not answered again.
        const repliesBefore = kinds.filter((kind) => kind === "response.completed").length
        say(socket, 1)
        yield* settle
        const after = socket.sent.map((json) => parse(json))
        assert.strictEqual(after.filter((e) => e.type === "message" && JSON.parse(e.data).type === "response.completed").length, repliesBefore)
        assert.strictEqual(after.filter((e) => e.type === "ack").length, 3)
      })))
})

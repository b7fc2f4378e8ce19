/**
 * The reference server speaks protocol v2 (docs/PROTOCOL.md §6–§7) to a client that says hello,
 * and v1, frame for frame as before, to one that does not. Real sockets on 127.0.0.1 with a plain
 * `ws` client; time on TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue, Random } from "effect"
import { TestClock } from "effect/testing"
import * as Protocol from "../../src/Protocol.ts"
import { encodeUserMessage } from "../../src/server/UserMessage.ts"
import { collect, startServer, waitFor } from "../support/harness.ts"
import { describeFrames, envelopeOf, plainClient } from "./client.ts"
import { FULL_SEQUENCE } from "../support/frames.ts"

/** A short message is nine frames in the full profile: created … completed, one delta. */
const FRAMES = 9

const helloOf = (frame: string) => {
  const envelope = envelopeOf(frame)
  assert.isTrue(Protocol.isHelloEnvelope(envelope), `a hello: ${frame}`)
  return envelope as Protocol.HelloEnvelope
}

describe("ReferenceServer, protocol v1 and v2", () => {
  it.effect("a v1 client (no hello) is sent exactly the message's frames, and nothing again after a reconnect", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const message = { conversationId: "c", text: "hi there", senderName: "Ada" }
      const expected = encodeUserMessage(message, {
        token: yield* Protocol.randomToken.pipe(Random.withSeed("v1")),
        startedAt: 0,
        profile: "full",
        deltaSize: 50
      }).frames.map((frame) => frame.json)
      const first = yield* plainClient(server.url)
      const sent = yield* server.sendUserMessage(message).pipe(Random.withSeed("v1"))
      assert.isFalse(sent.queued)
      assert.deepStrictEqual(yield* first.take(expected.length), expected)
      yield* first.close
      assert.strictEqual(yield* server.unacknowledged, 0)

      const second = yield* plainClient(server.url)
      yield* waitFor(events, "ClientConnected")
      const marker = yield* server.sendUserMessage({ conversationId: "c", text: "marker" })
      assert.deepStrictEqual(describeFrames(yield* second.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${marker.responseId}`), "no hello, no redelivery")
      assert.strictEqual(yield* server.unacknowledged, 0)
    }))

  it.effect("a v2 client gets the server's hello first, with the features both support", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const client = yield* plainClient(server.url, { hello: ["ack", "media", "telepathy"] })
      const hello = helloOf((yield* client.take(1))[0]!)
      // With media agreed, the hello offers the server's upload URL (§8.1).
      assert.deepStrictEqual(hello.data, { protocol: 2, features: ["ack", "media"], upload: { url: server.uploadUrl } })
      assert.match(hello.headers.messageId, /^msg_\d+_\w+$/)
      assert.deepStrictEqual(yield* waitFor(events, "Hello"), { _tag: "Hello", clientId: "demo", features: ["ack", "media"] })
      const { responseId } = yield* server.sendUserMessage({ conversationId: "c", text: "hi" })
      assert.deepStrictEqual(describeFrames(yield* client.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${responseId}`))
      assert.strictEqual(yield* server.unacknowledged, 1)
    }))

  it.effect("a hello without ack does not agree on ack: nothing is kept", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer()
      const client = yield* plainClient(server.url, { hello: ["media"] })
      assert.deepStrictEqual(helloOf((yield* client.take(1))[0]!).data.features, ["media"])
      yield* server.sendUserMessage({ conversationId: "c", text: "hi" })
      yield* client.take(FRAMES)
      assert.strictEqual(yield* server.unacknowledged, 0)
    }))

  it.effect("an unacknowledged message is sent again, identically, after the next link's hellos; not once acknowledged", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const first = yield* plainClient(server.url, { hello: ["ack"] })
      yield* first.take(1)
      const { responseId } = yield* server.sendUserMessage({ conversationId: "c", text: "remember me" })
      const original = yield* first.take(FRAMES)
      yield* first.close

      const second = yield* plainClient(server.url, { hello: ["ack"] })
      const [hello, ...again] = yield* second.take(1 + FRAMES)
      helloOf(hello!)
      assert.deepStrictEqual(again, original, "the same messageIds, event_ids, sequence numbers")
      assert.deepStrictEqual((yield* waitFor(events, "Redelivered")).responseIds, [responseId])
      yield* second.ack(responseId)
      assert.deepStrictEqual(yield* waitFor(events, "Acked"), { _tag: "Acked", clientId: "demo", responseId, settled: true })
      yield* second.close

      const third = yield* plainClient(server.url, { hello: ["ack"] })
      helloOf((yield* third.take(1))[0]!)
      const marker = yield* server.sendUserMessage({ conversationId: "c", text: "marker" })
      assert.deepStrictEqual(describeFrames(yield* third.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${marker.responseId}`))
    }))

  it.effect("the count of unacknowledged messages goes up with sends and down with acks; a repeated ack changes nothing", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const client = yield* plainClient(server.url, { hello: ["ack"] })
      yield* client.take(1)
      const ids: Array<string> = []
      for (const text of ["one", "two", "three"]) ids.push((yield* server.sendUserMessage({ conversationId: "c", text })).responseId)
      yield* client.take(3 * FRAMES)
      assert.strictEqual(yield* server.unacknowledged, 3)
      for (const id of ids) {
        yield* client.ack(id)
        yield* waitFor(events, "Acked", (e) => e.responseId === id)
      }
      yield* client.ack(ids[0]!)
      assert.isFalse((yield* waitFor(events, "Acked")).settled, "a repeat")
      assert.strictEqual(yield* server.unacknowledged, 0)
    }))

  it.effect("Unacknowledged events follow the count", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const client = yield* plainClient(server.url, { hello: ["ack"] })
      yield* client.take(1)
      const a = yield* server.sendUserMessage({ conversationId: "c", text: "a" })
      const b = yield* server.sendUserMessage({ conversationId: "c", text: "b" })
      yield* client.ack(b.responseId)
      yield* client.ack(a.responseId)
      const counts = (yield* collect(events, "Unacknowledged", 4)).map((e) => e.count)
      assert.deepStrictEqual(counts, [1, 2, 1, 0])
    }))

  it.effect("whichever frame the link drops at, the next link gets the whole message after its hellos", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer()
      for (let cut = 0; cut <= FRAMES; cut++) {
        const first = yield* plainClient(server.url, { hello: ["ack"] })
        yield* first.take(1)
        yield* server.setDropAfterFrames(cut)
        const { responseId } = yield* server.sendUserMessage({ conversationId: "c", text: `cut at ${cut}` })
        const before = cut === FRAMES ? yield* first.take(FRAMES) : yield* first.take(cut)
        assert.strictEqual(yield* Effect.promise(() => first.closed), 1006, `dropped after ${cut}`)
        assert.strictEqual(yield* Queue.size(first.frames), 0, "nothing after the cut")
        const second = yield* plainClient(server.url, { hello: ["ack"] })
        const [hello, ...whole] = yield* second.take(1 + FRAMES)
        helloOf(hello!)
        assert.deepStrictEqual(describeFrames(whole), FULL_SEQUENCE.map((type) => `${type} ${responseId}`), `cut at ${cut}`)
        assert.deepStrictEqual(whole.slice(0, before.length), before, "the frames already sent, identical")
        yield* second.ack(responseId)
        yield* second.close
        assert.strictEqual(yield* server.unacknowledged, 0)
      }
    }))

  it.effect("a message sent while a v2 client is away is queued and sent after its next hellos", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const first = yield* plainClient(server.url, { hello: ["ack"] })
      yield* first.take(1)
      yield* first.close
      yield* waitFor(events, "ClientDisconnected")
      const sent = yield* server.sendUserMessage({ conversationId: "c", text: "while away" })
      assert.isTrue(sent.queued)
      assert.strictEqual(yield* server.unacknowledged, 1)
      const second = yield* plainClient(server.url, { hello: ["ack"] })
      const frames = yield* second.take(1 + FRAMES)
      assert.deepStrictEqual(describeFrames(frames), ["hello", ...FULL_SEQUENCE.map((type) => `${type} ${sent.responseId}`)])
    }))

  it.effect("a new link of a client that spoke ack gets nothing before its hello", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const first = yield* plainClient(server.url, { hello: ["ack"] })
      yield* first.take(1)
      yield* first.close
      const second = yield* plainClient(server.url)
      yield* waitFor(events, "ClientConnected")
      const sent = yield* server.sendUserMessage({ conversationId: "c", text: "after the hello" })
      assert.isTrue(sent.queued, "held for the hello")
      yield* second.hello(["ack"])
      assert.deepStrictEqual(describeFrames(yield* second.take(1 + FRAMES)), ["hello", ...FULL_SEQUENCE.map((type) => `${type} ${sent.responseId}`)])
    }))

  it.effect("a client that spoke ack and comes back as v1 gets, after the hello timeout, only what no link was sent", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const first = yield* plainClient(server.url, { hello: ["ack"] })
      yield* first.take(1)
      yield* server.sendUserMessage({ conversationId: "c", text: "taken by the old client" })
      yield* first.take(FRAMES)
      yield* first.close
      yield* waitFor(events, "ClientDisconnected")
      const queued = yield* server.sendUserMessage({ conversationId: "c", text: "sent while away" })
      const v1 = yield* plainClient(server.url)
      yield* waitFor(events, "ClientConnected")
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(describeFrames(yield* v1.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${queued.responseId}`))
      assert.strictEqual(yield* server.unacknowledged, 0, "v1: nothing is kept")
      const marker = yield* server.sendUserMessage({ conversationId: "c", text: "marker" })
      assert.isFalse(marker.queued)
      assert.deepStrictEqual(describeFrames(yield* v1.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${marker.responseId}`))
    }))

  it.effect("a message written to a link before its hello arrives is kept once the hello agrees on ack", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const first = yield* plainClient(server.url)
      yield* waitFor(events, "ClientConnected")
      const { responseId } = yield* server.sendUserMessage({ conversationId: "c", text: "before the hello" })
      const original = yield* first.take(FRAMES)
      assert.strictEqual(yield* server.unacknowledged, 0, "undecided: not counted")
      yield* first.hello(["ack"])
      helloOf((yield* first.take(1))[0]!)
      assert.strictEqual(yield* server.unacknowledged, 1, "owed once the hello agreed on ack")
      yield* first.close
      const second = yield* plainClient(server.url, { hello: ["ack"] })
      const [, ...again] = yield* second.take(1 + FRAMES)
      assert.deepStrictEqual(again, original)
      assert.deepStrictEqual(describeFrames(again), FULL_SEQUENCE.map((type) => `${type} ${responseId}`))
    }))

  it.effect("a v1 client's first frame lets go of what it was sent: a later v2 link is not sent it", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const v1 = yield* plainClient(server.url)
      yield* waitFor(events, "ClientConnected")
      yield* server.sendUserMessage({ conversationId: "c", text: "for v1" })
      yield* v1.take(FRAMES)
      yield* v1.ack("resp_whatever")
      assert.isFalse((yield* waitFor(events, "Acked")).settled, "an ack on a v1 link settles nothing")
      yield* v1.close
      const v2 = yield* plainClient(server.url, { hello: ["ack"] })
      yield* v2.take(1)
      const marker = yield* server.sendUserMessage({ conversationId: "c", text: "marker" })
      assert.deepStrictEqual(describeFrames(yield* v2.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${marker.responseId}`))
    }))

  it.effect("v1 and v2 clients on one server: each sees its own protocol", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer({
        accounts: [{ clientId: "old", clientSecret: "old-secret" }, { clientId: "new", clientSecret: "new-secret" }]
      })
      const v1 = yield* plainClient(server.url, { clientId: "old", clientSecret: "old-secret" })
      const v2 = yield* plainClient(server.url, { clientId: "new", clientSecret: "new-secret", hello: ["ack"] })
      yield* collect(events, "ClientConnected", 2)
      helloOf((yield* v2.take(1))[0]!)
      const toOld = yield* server.sendUserMessage({ conversationId: "c", text: "old", clientId: "old" })
      const toNew = yield* server.sendUserMessage({ conversationId: "c", text: "new", clientId: "new" })
      assert.deepStrictEqual(describeFrames(yield* v1.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${toOld.responseId}`))
      assert.deepStrictEqual(describeFrames(yield* v2.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${toNew.responseId}`))
      assert.strictEqual(yield* server.unacknowledged, 1, "only the v2 client's message waits for an ack")
      yield* v1.close
      yield* v2.close

      const v1Again = yield* plainClient(server.url, { clientId: "old", clientSecret: "old-secret" })
      const v2Again = yield* plainClient(server.url, { clientId: "new", clientSecret: "new-secret", hello: ["ack"] })
      assert.deepStrictEqual(describeFrames(yield* v2Again.take(1 + FRAMES)), ["hello", ...FULL_SEQUENCE.map((type) => `${type} ${toNew.responseId}`)])
      const marker = yield* server.sendUserMessage({ conversationId: "c", text: "marker", clientId: "old" })
      assert.deepStrictEqual(describeFrames(yield* v1Again.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${marker.responseId}`), "no redelivery to v1")
    }))

  it.effect("a v1 server (protocol: 1) answers no hello and keeps nothing", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer({ protocol: 1 })
      const client = yield* plainClient(server.url, { hello: ["ack"] })
      const { responseId } = yield* server.sendUserMessage({ conversationId: "c", text: "hi" })
      assert.deepStrictEqual(describeFrames(yield* client.take(FRAMES)), FULL_SEQUENCE.map((type) => `${type} ${responseId}`))
      assert.strictEqual(yield* server.unacknowledged, 0)
    }))
})

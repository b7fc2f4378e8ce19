/**
 * The public entry, used the way an Effect application would: `InstaClaw.layer` with its own
 * Agent, a shared reference server layer, and `TestClock` for time.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, PubSub, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import { FaqAgent, FaqBot } from "../examples/faq-bot.ts"
import { Agent, Connector, InstaClaw, Logger } from "../src/index.ts"
import { ReferenceServer } from "../src/server/ReferenceServer.ts"
import { captureSink } from "./support/logs.ts"

const ServerLive = ReferenceServer.layer({ port: 0 })

/** Waits until the reference server has a completed reply for the conversation. */
const replyIn = (events: PubSub.Subscription<import("../src/server/ReferenceServer.ts").ServerEvent>, conversationId: string) =>
  Effect.gen(function*() {
    while (true) {
      const event = yield* PubSub.take(events)
      if (event._tag === "ReplyCompleted" && event.conversationId === conversationId) return event.text
    }
  })

const untilConnected = Effect.gen(function*() {
  const connector = yield* Connector.Connector
  yield* connector.statusChanges.pipe(Stream.filter((s) => s.state === "connected"), Stream.runHead)
})

layer(ServerLive)("InstaClaw.layer in an Effect application", (it) => {
  it.effect("a custom Agent answers through the reference server", () =>
    Effect.gen(function*() {
      const server = yield* ReferenceServer
      const events = yield* server.subscribe
      const shout = Agent.Agent.layer((request) => Stream.make(request.text.toUpperCase(), "!"))
      const Live = InstaClaw.layer({ clientId: "demo", clientSecret: "demo-secret", url: server.url }).pipe(Layer.provide(shout))
      yield* Effect.gen(function*() {
        yield* untilConnected
        yield* server.sendUserMessage({ conversationId: "conv_user", text: "hello effect" })
        assert.strictEqual(yield* replyIn(events, "conv_user"), "HELLO EFFECT!")
      }).pipe(Effect.provide(Live))
    }))

  it.effect("after a server drop, the backoff runs on TestClock and the conversation goes on", () =>
    Effect.gen(function*() {
      const server = yield* ReferenceServer
      const events = yield* server.subscribe
      const Live = InstaClaw.layer({ clientId: "demo", clientSecret: "demo-secret", url: server.url }).pipe(Layer.provide(Agent.Agent.echo))
      yield* Effect.gen(function*() {
        const connector = yield* Connector.Connector
        yield* untilConnected
        yield* server.dropAll()
        yield* connector.statusChanges.pipe(Stream.filter((s) => s.state === "reconnecting"), Stream.runHead)
        yield* TestClock.adjust("2 seconds")
        yield* untilConnected
        assert.strictEqual((yield* connector.status).reconnectAttempts, 0, "reset once connected")
        yield* server.sendUserMessage({ conversationId: "again", text: "still here" })
        assert.strictEqual(yield* replyIn(events, "again"), "still here")
      }).pipe(Effect.provide(Live))
    }))

  it.effect("a reconnect policy of your own replaces the default backoff", () =>
    Effect.gen(function*() {
      const server = yield* ReferenceServer
      const logs = captureSink()
      const Live = InstaClaw.layer(
        { clientId: "demo", clientSecret: "demo-secret", url: server.url },
        { reconnect: Schedule.spaced("5 seconds") }
      ).pipe(Layer.provide(Agent.Agent.echo), Layer.provide(Layer.succeed(Logger.LogSink, logs.sink)))
      yield* Effect.gen(function*() {
        const connector = yield* Connector.Connector
        yield* untilConnected
        yield* server.dropAll()
        yield* connector.statusChanges.pipe(Stream.filter((s) => s.state === "reconnecting"), Stream.runHead)
        yield* TestClock.adjust("5 seconds")
        yield* untilConnected
        assert.include(logs.text(), "Reconnecting: attempt 1 in 5000 ms")
      }).pipe(Effect.provide(Live))
    }))

  it.effect("the faq-bot example answers from its own service", () =>
    Effect.gen(function*() {
      const server = yield* ReferenceServer
      const events = yield* server.subscribe
      const env = { INSTACLAW_WS_URL: server.url, INSTACLAW_CLIENT_ID: "demo", INSTACLAW_CLIENT_SECRET: "demo-secret" }
      yield* Effect.gen(function*() {
        yield* untilConnected
        yield* server.sendUserMessage({ conversationId: "faq", text: "What are your opening hours?", senderName: "Ada" })
        assert.strictEqual(yield* replyIn(events, "faq"), "We are open 9:00–17:00, Monday to Friday.")
        yield* server.sendUserMessage({ conversationId: "faq", text: "Do you sell boats?", senderName: "Ada" })
        assert.strictEqual(yield* replyIn(events, "faq"), "Sorry Ada, I only know about hours, prices and refunds.")
      }).pipe(Effect.provide(FaqBot), Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))
      assert.isDefined(FaqAgent)
    }))

  it.effect("a bad config fails the layer with the sentence", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(Effect.void, InstaClaw.layer({ clientId: "demo" }).pipe(Layer.provide(Agent.Agent.echo))).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} })))
        )
      )
      assert.strictEqual(error.message, "Missing required configuration: clientSecret must be provided and non-empty")
    }))
})

describe("public surface", () => {
  it("exports the layers and types without OpenClaw", async () => {
    const api = await import("../src/index.ts")
    assert.includeMembers(Object.keys(api), ["Agent", "Config", "Connection", "Connector", "InstaClaw", "Logger", "Media", "Metrics", "Protocol"])
  })
})

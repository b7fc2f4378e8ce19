import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Deferred, Duration, Effect, Fiber, Layer, Metric, Stream, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentError, echoReply } from "../src/Agent.ts"
import { ConnectorConfig } from "../src/Config.ts"
import { Connector } from "../src/Connector.ts"
import * as InstaClaw from "../src/InstaClaw.ts"
import { LogSink } from "../src/Logger.ts"
import { fakeDialer } from "../src/testing/FakeDialer.ts"
import * as Metrics from "../src/Metrics.ts"
import * as Protocol from "../src/Protocol.ts"
import { forceGc } from "./support/gc.ts"
import { collect, startConnector, startServer, waitFor } from "./support/harness.ts"
import { captureSink } from "./support/logs.ts"

/** An agent whose reply to "slow …" takes `seconds` of (test) time; others answer at once. */
const sleepyAgent = (seconds: number, started: Array<[string, number]> = []) =>
  Agent.layer((request) =>
    Stream.unwrap(
      Effect.gen(function*() {
        started.push([request.text, yield* Clock.currentTimeMillis])
        if (request.text.startsWith("slow")) yield* Effect.sleep(Duration.seconds(seconds))
        return Stream.make(`re: ${request.text}`)
      })
    )
  )

/** The paced echo agent, noting when each reply starts. */
const paced = (pause: Duration.Input) => {
  const started: Array<string> = []
  const agent = Agent.layer((request) =>
    Stream.unwrap(Effect.sync(() => {
      started.push(request.text)
      return echoReply(request.text, pause)
    }))
  )
  return { agent, started }
}

const reach = (connector: { readonly statusChanges: Stream.Stream<{ readonly state: string }> }, state: string) =>
  connector.statusChanges.pipe(Stream.filter((s) => s.state === state), Stream.runHead)
const connected = (connector: { readonly statusChanges: Stream.Stream<{ readonly state: string }> }) => reach(connector, "connected")

describe("Connector with the reference server", () => {
  it.effect("answers a message through the agent, streamed, to the same conversation", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { connector } = yield* startConnector(server.url, Agent.echo)
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "conv_1", text: "Hello there, connector!", senderId: "u1", senderName: "Ada" })
      const done = yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual([done.conversationId, done.text], ["conv_1", "Hello there, connector!"])
      const status = yield* connector.status
      assert.strictEqual(status.state, "connected")
      assert.isDefined(status.lastInboundAt)
      assert.isDefined(status.lastOutboundAt)
    }))

  it.effect("each message is answered in a span of its own, Connector.answer, for any tracer installed", () =>
    Effect.gen(function*() {
      const names: Array<string> = []
      const tracer = Tracer.make({
        span(options) {
          names.push(options.name)
          return Tracer.nativeTracer.span(options)
        }
      })
      const { events, server } = yield* startServer()
      const { connector } = yield* startConnector(server.url, Agent.echo).pipe(Effect.provideService(Tracer.Tracer, tracer))
      yield* connected(connector)
      for (const conversationId of ["conv_1", "conv_2"]) {
        yield* server.sendUserMessage({ conversationId, text: "Trace me" })
        yield* waitFor(events, "ReplyCompleted")
      }
      assert.strictEqual(names.filter((name) => name === "Connector.answer").length, 2)
    }))

  it.effect("the first delta is on the wire before the agent finishes", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const agent = Agent.layer(() => Stream.concat(Stream.make("first "), Stream.fromEffect(Effect.as(Effect.sleep("10 seconds"), "second"))))
      const { connector } = yield* startConnector(server.url, agent)
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "c", text: "go" })
      const delta = yield* waitFor(events, "ReplyDelta")
      assert.strictEqual(delta.delta, "first ")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "first second")
    }))

  it.effect("replies in one conversation keep the order of the messages", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const started: Array<[string, number]> = []
      const { connector } = yield* startConnector(server.url, sleepyAgent(5, started))
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "c", text: "slow one" })
      yield* server.sendUserMessage({ conversationId: "c", text: "fast two" })
      while (started.length < 1) yield* Effect.yieldNow
      yield* TestClock.adjust("5 seconds")
      const replies = yield* collect(events, "ReplyCompleted", 2)
      assert.deepStrictEqual(replies.map((r) => r.text), ["re: slow one", "re: fast two"])
      assert.deepStrictEqual(started, [["slow one", 0], ["fast two", 5000]], "the second waited for the first")
    }))

  it.effect("different conversations are answered concurrently", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const started: Array<[string, number]> = []
      const { connector } = yield* startConnector(server.url, sleepyAgent(5, started))
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "a", text: "slow a" })
      yield* server.sendUserMessage({ conversationId: "b", text: "slow b" })
      while (started.length < 2) yield* Effect.yieldNow
      yield* TestClock.adjust("5 seconds")
      const replies = yield* collect(events, "ReplyCompleted", 2)
      assert.sameMembers(replies.map((r) => r.text), ["re: slow a", "re: slow b"])
      assert.deepStrictEqual(started.map(([, at]) => at), [0, 0], "both agents ran at once")
    }))

  it.effect("maxConcurrentConversations bounds how many conversations run at once", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const started: Array<[string, number]> = []
      const { connector } = yield* startConnector(server.url, sleepyAgent(5, started), { maxConcurrentConversations: 1 })
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "a", text: "slow a" })
      yield* server.sendUserMessage({ conversationId: "b", text: "slow b" })
      while (started.length < 1) yield* Effect.yieldNow
      yield* TestClock.adjust("5 seconds")
      yield* waitFor(events, "ReplyCompleted")
      while (started.length < 2) yield* Effect.yieldNow
      yield* TestClock.adjust("5 seconds")
      yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual(started.map(([, at]) => at), [0, 5000])
    }))

  it.effect("an agent failure becomes response.failed with its safe message; a defect with a generic one", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const agent = Agent.layer((request) =>
        request.text === "fail"
          ? Stream.fail(new AgentError({ message: "Sorry, I am busy. Try again soon.", code: "busy", cause: new Error("db down") }))
          : request.text === "die"
          ? Stream.die(new Error("bug with demo-secret inside"))
          : Stream.make("fine")
      )
      const { connector, logs } = yield* startConnector(server.url, agent)
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "c", text: "fail" })
      const failed = yield* waitFor(events, "ReplyFailed")
      assert.deepStrictEqual([failed.code, failed.message], ["busy", "Sorry, I am busy. Try again soon."])
      yield* server.sendUserMessage({ conversationId: "c", text: "die" })
      const died = yield* waitFor(events, "ReplyFailed")
      assert.deepStrictEqual([died.code, died.message], ["server_error", "The agent could not produce a reply."])
      yield* server.sendUserMessage({ conversationId: "c", text: "ok" })
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "fine", "the connector lives on")
      assert.match(logs.text(), /\[ERROR\] \[InstaClawConnector\] The agent failed to answer; sending response.failed conversationId=c/)
      assert.include(logs.text(), "db down", "the cause is logged")
      assert.notInclude(logs.text(), "demo-secret")
    }))

  it.effect("an empty reply becomes response.failed", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { connector } = yield* startConnector(server.url, Agent.layer(() => Stream.make("  ", "\n")))
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "c", text: "hi" })
      const failed = yield* waitFor(events, "ReplyFailed")
      assert.strictEqual(failed.code, "empty_reply")
    }))

  it.effect("a message sent while the connector is reconnecting is answered once", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { connector } = yield* startConnector(server.url, Agent.echo)
      yield* connected(connector)
      yield* server.dropAll()
      yield* reach(connector, "reconnecting")
      const sending = yield* Effect.forkChild(server.sendUserMessage({ conversationId: "c", text: "during reconnect" }))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(sending)
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "during reconnect")
      yield* server.sendUserMessage({ conversationId: "c", text: "next" })
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "next", "nothing in between: no double reply")
    }))

  it.effect("1500 abandoned responses never block new messages; the evictions stay a few lines", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { connector, logs } = yield* startConnector(server.url, Agent.echo)
      yield* connected(connector)
      for (let i = 0; i < 1500; i++) {
        yield* server.sendRaw(JSON.stringify({
          type: "message",
          headers: { messageId: `msg_abandoned_${i}`, timestamp: 1, conversationId: `abandoned_${i}` },
          data: JSON.stringify({ type: "response.in_progress", sequence_number: 0, response_id: `resp_abandoned_${i}` })
        }))
      }
      const texts: Array<string> = []
      for (let i = 0; i < 20; i++) {
        yield* server.sendUserMessage({ conversationId: `fresh_${i}`, text: `new message ${i}` })
        texts.push((yield* waitFor(events, "ReplyCompleted", (e) => e.conversationId === `fresh_${i}`)).text)
      }
      assert.deepStrictEqual(texts, Array.from({ length: 20 }, (_, i) => `new message ${i}`))
      const evicted = logs.lines.filter((l) => l.line.includes("Protocol violation Evicted"))
      assert.strictEqual(evicted.length, 5, "the first few in full")
      assert.match(evicted[0]!.line, /responseId=resp_abandoned_0\b/, "the stalest goes first, named once")
      yield* TestClock.adjust("10 seconds")
      // 500 evictions for the abandoned ones, one more for the first new message.
      assert.match(logs.text(), /Left out 496 repeated lines in the last 10s: Evicted ×496/)
    }))

  it.effect("150 envelopes with 0.9 MB ids: refused with a clear line, none remembered, the link lives on", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { connector, logs } = yield* startConnector(server.url, Agent.echo)
      yield* connected(connector)
      forceGc()
      const before = process.memoryUsage().heapUsed
      for (let i = 0; i < 150; i++) {
        yield* server.sendRaw(JSON.stringify({
          type: "message",
          headers: { messageId: `${i}-${"m".repeat(900_000)}`, timestamp: 1, conversationId: "c" },
          data: JSON.stringify({ type: "response.in_progress", response_id: `r${i}` })
        }))
      }
      yield* server.sendUserMessage({ conversationId: "after", text: "still answered" })
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "still answered")
      forceGc()
      assert.isBelow((process.memoryUsage().heapUsed - before) / 1024 / 1024, 10, "nothing of 135 MB of ids is held")
      assert.include(logs.text(), "Skipped a frame: Malformed frame: Expected a value with a length of at most 256\n  at [\"headers\"][\"messageId\"]")
      assert.notInclude(logs.text(), "mmmmmmmmmm", "the line names the field, never its value")
    }), 60_000) // 135 MB through a real socket: seconds on a busy two-core machine

  it.effect("a redelivered message (the same frames again, after a reconnect) is answered once", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { connector, logs } = yield* startConnector(server.url, Agent.echo, { debug: true })
      yield* connected(connector)
      const { responseId } = yield* server.sendUserMessage({ conversationId: "c", text: "once only" })
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "once only")
      yield* server.dropAll()
      yield* reach(connector, "reconnecting")
      yield* TestClock.adjust("2 seconds")
      yield* waitFor(events, "ClientConnected")
      yield* server.redeliver(responseId)
      yield* server.sendUserMessage({ conversationId: "c", text: "marker" })
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "marker", "no second reply to the redelivery")
      assert.match(logs.text(), /Dropped a redelivered envelope msg_/)
    }))

  it.effect("a conversation's next reply does not wait for the pong that confirms the one before", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { close, connector } = yield* startConnector(server.url, Agent.echo)
      const delivered = Effect.map(Metric.value(Metrics.messagesOut), (state) => state.count)
      yield* connected(connector)
      yield* server.setAnswerPings(false)
      const before = yield* delivered
      for (const text of ["one", "two", "three"]) yield* server.sendUserMessage({ conversationId: "c", text })
      const replies = yield* collect(events, "ReplyCompleted", 3)
      assert.deepStrictEqual(replies.map((r) => r.text), ["one", "two", "three"])
      assert.strictEqual(yield* delivered, before, "none counted as delivered: no pong yet")
      // Unconfirmed replies keep the shutdown waiting for its grace period.
      const closing = yield* Effect.forkChild(close)
      yield* TestClock.adjust("6 seconds")
      yield* Fiber.join(closing)
    }))

  it.live("a burst of 3 000 messages sent at once, in 20 conversations, is answered in full, each once", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { connector } = yield* startConnector(server.url, Agent.echo)
      yield* connected(connector)
      const frames: Array<string> = []
      for (let i = 0; i < 3000; i++) {
        const encoder = new Protocol.ReplyEncoder({ conversationId: `flood_${i % 20}`, token: `flood${i}`, startedAt: 0, model: "m", profile: "full", deltaSize: 7, role: "user" })
        for (const frame of [...encoder.open(), ...encoder.text(`message ${i} of the flood`), ...encoder.complete()]) frames.push(frame.json)
      }
      yield* Effect.forEach(frames, server.sendRaw, { discard: true, concurrency: "unbounded" })
      const replies = yield* collect(events, "ReplyCompleted", 3000).pipe(Effect.timeout("60 seconds"))
      assert.strictEqual(new Set(replies.map((r) => r.text)).size, 3000)
    }), 90_000)

  it.effect("shutdown lets an in-flight reply finish, then closes with 1000", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { agent, started } = paced("1 second")
      const { close, connector } = yield* startConnector(server.url, agent, { shutdownGracePeriod: 5000 })
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "c", text: "one two three" })
      while (started.length < 1) yield* Effect.yieldNow
      yield* TestClock.adjust("1 second")
      yield* waitFor(events, "ReplyDelta")
      const closing = yield* Effect.forkChild(close)
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "one two three")
      yield* Fiber.join(closing)
      assert.strictEqual((yield* waitFor(events, "ClientDisconnected")).code, 1000)
    }))

  it.effect("shutdown interrupts a reply that outlives the grace period", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { agent, started } = paced("10 seconds")
      const { close, connector, logs } = yield* startConnector(server.url, agent, { shutdownGracePeriod: 2000 })
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "c", text: "never finishes" })
      while (started.length < 1) yield* Effect.yieldNow
      const closing = yield* Effect.forkChild(close)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(closing)
      assert.strictEqual((yield* waitFor(events, "ClientDisconnected")).code, 1000)
      assert.match(logs.text(), /Shutdown grace period over; interrupting unfinished replies/)
    }))

  it.effect("send: an outbound message to a conversation; empty text refused", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer()
      const { connector } = yield* startConnector(server.url, Agent.echo)
      yield* connected(connector)
      const sent = yield* connector.send("conv_x", "Proactive hello")
      assert.match(sent.responseId, /^resp_[0-9a-z]+$/)
      const done = yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual([done.conversationId, done.responseId, done.text], ["conv_x", sent.responseId, "Proactive hello"])
      const empty = yield* Effect.flip(connector.send("conv_x", "   "))
      assert.strictEqual(empty.message, "Cannot send empty message")
    }))

  it.effect("metrics count messages, replies, failures and violations", () =>
    Effect.gen(function*() {
      const count = (metric: Metric.Metric<number, Metric.CounterState<number>>) => Effect.map(Metric.value(metric), (s) => s.count)
      const before = [yield* count(Metrics.messagesIn), yield* count(Metrics.messagesOut), yield* count(Metrics.repliesFailed), yield* count(Metrics.protocolViolations)]
      const { events, server } = yield* startServer()
      const agent = Agent.layer((request) => (request.text === "fail" ? Stream.fail(new AgentError({ message: "no" })) : Stream.make("ok")))
      const { connector } = yield* startConnector(server.url, agent)
      yield* connected(connector)
      yield* server.sendUserMessage({ conversationId: "c", text: "hi" })
      yield* server.sendUserMessage({ conversationId: "c", text: "fail" })
      yield* server.sendRaw(JSON.stringify({ type: "message", headers: { messageId: "v1", timestamp: 1, conversationId: "c" }, data: JSON.stringify({ type: "response.output_text.delta", response_id: "ghost", delta: "x" }) }))
      yield* waitFor(events, "ReplyCompleted")
      yield* waitFor(events, "ReplyFailed")
      // Replies count once the server has provably read them (a round trip after the last frame).
      const deltas = Effect.gen(function*() {
        const now = [yield* count(Metrics.messagesIn), yield* count(Metrics.messagesOut), yield* count(Metrics.repliesFailed), yield* count(Metrics.protocolViolations)]
        return now.map((n, i) => n - before[i]!)
      })
      while ((yield* deltas).some((n, i) => n < [2, 1, 1, 1][i]!)) yield* Effect.yieldNow
      assert.deepStrictEqual(yield* deltas, [2, 1, 1, 1])
    }))
})

describe("Connector with a fake socket, under TestClock", () => {
  /** The frames of one user message, as a server streams them. */
  const userFrames = (conversationId: string, token: string, text: string) => {
    const encoder = new Protocol.ReplyEncoder({ conversationId, token, startedAt: 0, model: "m", profile: "full", deltaSize: 7, role: "user" })
    return [...encoder.open(), ...encoder.text(text), ...encoder.complete()].map((frame) => frame.json)
  }

  it.effect("a backlog held longer than responseIdleTimeout does not discard the half-read message behind it", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const asked: Array<string> = []
      // Every reply waits for the gate: 1 000 messages of one conversation fill the connector's
      // room, and the next completed message makes the intake wait.
      const agent = Agent.layer((request) =>
        Stream.unwrap(Effect.sync(() => {
          asked.push(request.text)
          return Stream.fromEffect(Effect.as(Deferred.await(gate), `re: ${request.text}`))
        }))
      )
      const dial = fakeDialer((socket) => socket.open())
      const logs = captureSink()
      const layer = InstaClaw.layerWithConfig.pipe(
        Layer.provide(dial.layer),
        Layer.provide(agent),
        Layer.provideMerge(ConnectorConfig.layer({ url: "ws://127.0.0.1:1/x", clientId: "demo", clientSecret: "demo-secret", responseIdleTimeout: 10_000 })),
        Layer.provide(Layer.succeed(LogSink, logs.sink))
      )
      const context = yield* Layer.build(layer)
      yield* connected(Context.get(context, Connector))
      const socket = dial.sockets[0]!

      // A message in another conversation, half read: its first frames, not its end.
      const late = userFrames("conv_late", "late", "arrives in two parts")
      const cut = late.length - 2
      for (const frame of late.slice(0, cut)) socket.receive(frame)
      // Then 1 001 complete messages: the last one waits for room.
      for (let i = 0; i <= 1000; i++) for (const frame of userFrames("conv_busy", `busy${i}`, `busy ${i}`)) socket.receive(frame)
      yield* Effect.yieldNow
      // The backlog lasts three idle timeouts; the sweep runs meanwhile.
      yield* TestClock.adjust("30 seconds")
      yield* Deferred.succeed(gate, undefined)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      // The rest of the half-read message arrives now.
      for (const frame of late.slice(cut)) socket.receive(frame)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.include(asked, "arrives in two parts", "the half-read message was kept and answered")
      assert.notInclude(logs.text(), "Idle", "no response was discarded as idle")
    }).pipe(Effect.scoped), { timeout: 30_000 })
})

/**
 * Replies going out (`src/connector/Reply.ts`), against a fake response writer: an answer is
 * written batch by batch and marks the outbound time once; it counts, and is settled, only once
 * the server has read it (the writer's `settle` calls back; `settling` does the rest); a reply
 * that cannot be written is given up and counted as failed; `send` writes a whole text and waits
 * for its confirmation.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric, Stream } from "effect"
import { AgentError, type AgentRequest } from "../../src/Agent.ts"
import { type ConnectionError, notConnected, type ResponseWriter } from "../../src/Connection.ts"
import { makeFailures } from "../../src/connector/Failures.ts"
import { makeReplies } from "../../src/connector/Reply.ts"
import * as InstaLogger from "../../src/Logger.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as Protocol from "../../src/Protocol.ts"
import { captureSink } from "../support/logs.ts"

const message: Protocol.InboundMessage = {
  conversationId: "conv_1",
  senderId: "u1",
  responseId: "resp_in",
  messageId: "msg_in",
  text: "hello there",
  receivedAt: 0
}

const counters = Effect.gen(function*() {
  const count = (metric: typeof Metrics.messagesIn) => Effect.map(Metric.value(metric), (s) => s.count)
  return { in: yield* count(Metrics.messagesIn), out: yield* count(Metrics.messagesOut), failed: yield* count(Metrics.repliesFailed) }
})

/** How far the counters moved while `effect` ran. */
const countedBy = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = yield* counters
    const result = yield* effect
    const after = yield* counters
    return { result, moved: { in: after.in - before.in, out: after.out - before.out, failed: after.failed - before.failed } }
  })

/**
 * Replies over a fake writer. `failWrite` fails every write; `finish` is what each response's
 * `finish` does (`send` waits for it). An answer's `settle` calls back at once, unless `holdPongs`:
 * then `pong()` calls back every one held so far. `backgroundDone` settles what was confirmed.
 */
const setup = (options: {
  readonly reply?: (request: AgentRequest) => Stream.Stream<string, AgentError>
  readonly failWrite?: boolean
  readonly finish?: Effect.Effect<void, ConnectionError>
  readonly holdPongs?: boolean
} = {}) => {
  const written: Array<string> = []
  const batches: Array<number> = []
  const asked: Array<AgentRequest> = []
  const settled: Array<[string, boolean]> = []
  let abandoned = 0
  let marks = 0
  const held: Array<() => void> = []
  const logs = captureSink()
  const writer: ResponseWriter = {
    write: (frames) =>
      options.failWrite
        ? Effect.fail(notConnected())
        : Effect.sync(() => {
          batches.push(frames.length)
          for (const frame of frames) written.push(frame.type)
        }),
    finish: options.finish ?? Effect.void,
    settle: (done) => (options.holdPongs ? held.push(done) : done()),
    abandon: Effect.sync(() => void abandoned++)
  }
  const replies = Effect.runSync(makeReplies({
    agent: {
      reply: (request) => {
        asked.push(request)
        return (options.reply ?? ((r) => Stream.make(...r.text.split(" ").map((w) => `${w} `))))(request)
      }
    },
    systemPrompt: "Be brief.",
    settled: (message, delivered) => Effect.sync(() => void settled.push([message.responseId, delivered])),
    protocol: Protocol.make(),
    beginResponse: Effect.succeed(writer),
    beginAnswer: Effect.succeed(writer),
    failures: makeFailures(["very-secret-value"]),
    markOutbound: Effect.sync(() => void marks++)
  }))
  const logged = <A, E>(effect: Effect.Effect<A, E>) => Effect.provide(effect, InstaLogger.layer({ debug: true, sink: logs.sink }))
  /** Runs `settling` (as the connector does for its scope) until every answer confirmed so far is settled. */
  const backgroundDone = Effect.raceFirst(replies.idle, logged(replies.settling))
  const pong = () => {
    for (const done of held.splice(0)) done()
  }
  return {
    replies,
    written,
    batches,
    asked,
    settled,
    logs,
    logged,
    backgroundDone,
    abandoned: () => abandoned,
    marks: () => marks,
    pong,
    unsettled: () => replies.unsettled()
  }
}

describe("Reply", () => {
  it.effect("answer asks the agent with the message's ids and the system prompt, writes its reply in order, and marks the outbound time once", () =>
    Effect.gen(function*() {
      const t = setup()
      const { moved } = yield* countedBy(Effect.andThen(t.logged(t.replies.answer(message)), t.backgroundDone))
      assert.deepStrictEqual(t.asked.map((r) => [r.conversationId, r.messageId, r.responseId, r.text, r.systemPrompt]), [
        ["conv_1", "msg_in", "resp_in", "hello there", "Be brief."]
      ])
      assert.strictEqual(t.written[0], "response.created")
      assert.strictEqual(t.written.at(-1), "response.completed")
      assert.include(t.written, "response.output_text.delta")
      assert.isAbove(t.batches.length, 1, "written batch by batch")
      assert.strictEqual(t.marks(), 1)
      assert.deepStrictEqual(moved, { in: 1, out: 1, failed: 0 })
    }))

  it.effect("answer returns once the reply is written; it counts and is settled only when the server has read it", () =>
    Effect.gen(function*() {
      const t = setup({ holdPongs: true })
      const { moved } = yield* countedBy(t.logged(t.replies.answer(message)))
      assert.deepStrictEqual(moved, { in: 1, out: 0, failed: 0 }, "answered, not yet confirmed")
      assert.strictEqual(t.unsettled(), 1)
      const idle = yield* Effect.forkChild(t.replies.idle)
      yield* Effect.yieldNow
      assert.isUndefined(idle.pollUnsafe(), "a graceful close waits for it")
      const confirmed = yield* countedBy(Effect.andThen(Effect.sync(t.pong), t.backgroundDone))
      assert.deepStrictEqual(confirmed.moved, { in: 0, out: 1, failed: 0 })
      assert.deepStrictEqual(t.settled, [["resp_in", true]])
      assert.strictEqual(t.unsettled(), 0)
      yield* Fiber.join(idle)
    }))

  it.effect("a reply that cannot be written is given up, counted as failed and logged", () =>
    Effect.gen(function*() {
      const t = setup({ failWrite: true })
      const { moved } = yield* countedBy(Effect.andThen(t.logged(t.replies.answer(message)), t.backgroundDone))
      assert.strictEqual(t.abandoned(), 1, "no new link gets it again")
      assert.deepStrictEqual(moved, { in: 1, out: 0, failed: 1 })
      assert.include(t.logs.text(), "Could not send the reply: WebSocket is not connected")
    }))

  it.effect("a reply written but never confirmed is neither counted nor settled: it waits for a link that confirms it", () =>
    Effect.gen(function*() {
      const t = setup({ holdPongs: true })
      const { moved } = yield* countedBy(Effect.andThen(t.logged(t.replies.answer(message)), Effect.yieldNow))
      assert.deepStrictEqual(moved, { in: 1, out: 0, failed: 0 })
      assert.deepStrictEqual(t.settled, [], "not acknowledged: the server sends it again if it never got it")
      assert.strictEqual(t.unsettled(), 1)
    }))

  it.effect("an agent failure ends the reply with response.failed and its safe message, counted as failed", () =>
    Effect.gen(function*() {
      const t = setup({ reply: () => Stream.fail(new AgentError({ message: "The model is down." })) })
      const { moved } = yield* countedBy(Effect.andThen(t.logged(t.replies.answer(message)), t.backgroundDone))
      assert.strictEqual(t.written.at(-1), "response.failed")
      assert.deepStrictEqual(moved, { in: 1, out: 0, failed: 1 })
    }))

  it.effect("an empty reply ends with response.failed, counted as failed, with a warning", () =>
    Effect.gen(function*() {
      const t = setup({ reply: () => Stream.empty })
      const { moved } = yield* countedBy(Effect.andThen(t.logged(t.replies.answer(message)), t.backgroundDone))
      assert.strictEqual(t.written.at(-1), "response.failed")
      assert.deepStrictEqual(moved, { in: 1, out: 0, failed: 1 })
      assert.isTrue(t.logs.lines.some((l) => l.method === "warn" && l.line.includes("The agent returned an empty reply")))
    }))

  it.effect("send writes the whole text as one response, waits for its confirmation, and returns its ids", () =>
    Effect.gen(function*() {
      const read = yield* Deferred.make<void, ConnectionError>()
      const t = setup({ finish: Deferred.await(read) })
      const sending = yield* Effect.forkChild(t.logged(t.replies.send("conv_9", "Proactive hello")))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.isUndefined(sending.pollUnsafe(), "waits for the server to have read it")
      yield* Deferred.succeed(read, undefined)
      const sent = yield* Fiber.join(sending)
      assert.strictEqual(sent.conversationId, "conv_9")
      assert.match(sent.responseId, /^resp_/)
      assert.deepStrictEqual([t.written[0], t.written.at(-1)], ["response.created", "response.completed"])
      assert.strictEqual(t.marks(), 1)
      assert.strictEqual(t.abandoned(), 1, "the writer is let go once done")
    }))

  it.effect("send refuses empty text before writing anything", () =>
    Effect.gen(function*() {
      const t = setup()
      const exit = yield* Effect.exit(t.logged(t.replies.send("conv_9", "   ")))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(t.written, [])
      assert.strictEqual(t.marks(), 0)
    }))
})

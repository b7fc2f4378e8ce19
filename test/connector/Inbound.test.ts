/**
 * The connector's side of the intake (`src/connector/Inbound.ts`), over a scripted assembler: an
 * envelope that completes nothing costs no effect; a completed message reaches `onMessage` in the
 * connector's context, not the link's; violations are counted and a flood of them kept to a few
 * lines; the sweep reports what it gives up, and stands still while paused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Metric, Option } from "effect"
import { TestClock } from "effect/testing"
import { makeInbound, sweepInterval } from "../../src/connector/Inbound.ts"
import * as InstaLogger from "../../src/Logger.ts"
import * as Metrics from "../../src/Metrics.ts"
import type { AssemblerOutput, InboundMessage } from "../../src/Protocol.ts"
import { userEnvelope } from "../../src/testing/Frames.ts"
import { captureSink } from "../support/logs.ts"

/** Which context an effect ran in: the connector's or the link's. */
class Where extends Context.Service<Where, string>()("test/Where") {}

const message = (text: string): InboundMessage => ({
  conversationId: "conv_1",
  senderId: "u1",
  responseId: `resp_${text}`,
  messageId: `msg_${text}`,
  text,
  receivedAt: 0
})

const envelope = userEnvelope({ type: "response.in_progress", response_id: "r" })

const violation = (n: number): AssemblerOutput => ({
  _tag: "Violation",
  violation: { reason: "UnknownResponse", detail: `no response ghost${n}`, responseId: `ghost${n}`, conversationId: "conv_1" }
})

/** Inbound over an assembler that returns `pushed` for the next push and `swept` for each sweep. */
const setup = Effect.gen(function*() {
  const logs = captureSink()
  const script = { pushed: [] as ReadonlyArray<AssemblerOutput>, swept: [] as Array<AssemblerOutput>, sweeps: 0, paused: false }
  const received: Array<[string, string]> = []
  const settledBefore: Array<[string, boolean]> = []
  const inbound = yield* makeInbound({
    assembler: {
      push: () => script.pushed,
      sweep: () => {
        script.sweeps++
        return script.swept
      }
    },
    onMessage: (m) =>
      Effect.gen(function*() {
        received.push([m.text, Option.getOrElse(yield* Effect.serviceOption(Where), () => "none")])
      }),
    paused: () => script.paused,
    settledBefore: (target, answered) => Effect.sync(() => void settledBefore.push([target.responseId, answered]))
  }).pipe(
    Effect.provideService(Where, "connector"),
    Effect.provide(InstaLogger.layer({ debug: true, sink: logs.sink }))
  )
  /** Hands one envelope over as a link does: its effect, if any, runs in the link's context. */
  const consume = (outputs: ReadonlyArray<AssemblerOutput>) => {
    script.pushed = outputs
    const effect = inbound.consume(envelope)
    return effect === undefined ? Effect.succeed(false) : Effect.as(Effect.provideService(effect, Where, "link"), true)
  }
  /** The sweep, as the connector's own fiber runs it (with its logger). */
  const sweep = Effect.provide(inbound.sweep, InstaLogger.layer({ debug: true, sink: logs.sink }))
  return { inbound, script, received, settledBefore, logs, consume, sweep }
})

const violations = Effect.map(Metric.value(Metrics.protocolViolations), (s) => s.count)

describe("Inbound", () => {
  it.effect("an envelope that completes nothing makes no effect at all", () =>
    Effect.gen(function*() {
      const { consume } = yield* setup
      assert.isFalse(yield* consume([]))
    }))

  it.effect("completed messages reach onMessage in order, in the connector's context rather than the link's", () =>
    Effect.gen(function*() {
      const { consume, received } = yield* setup
      assert.isTrue(yield* consume([{ _tag: "Message", message: message("one") }]))
      yield* consume([{ _tag: "Message", message: message("two") }, { _tag: "Message", message: message("three") }])
      assert.deepStrictEqual(received, [["one", "connector"], ["two", "connector"], ["three", "connector"]])
    }))

  it.effect("violations are counted and said at warn, five of a kind per interval, then a count", () =>
    Effect.gen(function*() {
      const { consume, logs } = yield* setup
      const before = yield* violations
      yield* consume(Array.from({ length: 8 }, (_, n) => violation(n)))
      assert.strictEqual((yield* violations) - before, 8)
      const warned = logs.lines.filter((l) => l.method === "warn")
      assert.strictEqual(warned.length, 5)
      assert.include(warned[0]!.line, "Protocol violation UnknownResponse: no response ghost0")
      assert.include(warned[0]!.line, "responseId=ghost0")
      yield* TestClock.adjust("10 seconds")
      assert.include(logs.text(), "Left out 3 repeated lines in the last 10s: UnknownResponse ×3")
    }))

  it.effect("duplicates and ignored events are said at debug only", () =>
    Effect.gen(function*() {
      const { consume, logs } = yield* setup
      yield* consume([{ _tag: "Duplicate", messageId: "msg_9" }, { _tag: "Ignored", eventType: "response.audio.delta" }])
      assert.deepStrictEqual(logs.lines.map((l) => l.method), ["debug", "debug"])
      assert.include(logs.lines[0]!.line, "Dropped a redelivered envelope msg_9")
      assert.include(logs.lines[1]!.line, "Ignored event response.audio.delta")
    }))

  it.effect("which ends are acknowledged again: a redelivered completion (answered), a redelivered failure, a message ended for good; not an evicted one", () =>
    Effect.gen(function*() {
      const { consume, settledBefore } = yield* setup
      const at = { conversationId: "c" }
      yield* consume([
        { _tag: "Duplicate", messageId: "m1", responseId: "done", eventType: "response.completed", ...at },
        { _tag: "Duplicate", messageId: "m2", responseId: "failed", eventType: "response.failed", ...at },
        { _tag: "Duplicate", messageId: "m3", responseId: "delta", eventType: "response.output_text.delta", ...at },
        { _tag: "Violation", violation: { reason: "TextTooLarge", detail: "x", responseId: "big", ...at } },
        { _tag: "Violation", violation: { reason: "IncompleteText", detail: "x", responseId: "gap", ...at } },
        { _tag: "Violation", violation: { reason: "Evicted", detail: "x", responseId: "evicted", ...at } },
        { _tag: "Violation", violation: { reason: "IdleTimeout", detail: "x", responseId: "idle", ...at } }
      ])
      assert.deepStrictEqual(settledBefore, [["done", true], ["failed", false], ["big", false], ["gap", false]])
    }))

  it.effect("the sweep reports what the assembler gave up, and stands still while paused", () =>
    Effect.gen(function*() {
      const { sweep, script, logs } = yield* setup
      script.swept = [{ _tag: "Violation", violation: { reason: "IdleTimeout", detail: "idle for 300000 ms" } }]
      script.paused = true
      yield* sweep
      assert.strictEqual(script.sweeps, 0, "paused: the assembler is not even asked")
      script.paused = false
      yield* sweep
      assert.strictEqual(script.sweeps, 1)
      assert.include(logs.text(), "Protocol violation IdleTimeout: idle for 300000 ms")
    }))

  it("the sweep runs every tenth of the idle timeout, at least every second", () => {
    assert.deepStrictEqual([300_000, 10_000, 5_000, 1].map((idle) => Duration.toMillis(sweepInterval(idle))), [30_000, 1_000, 1_000, 1_000])
  })
})

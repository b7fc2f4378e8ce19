/**
 * The connector's status (`src/connector/Status.ts`): patches merge into one value, and the
 * activity times move by whole seconds at most, from the message's time (inbound) or the clock's
 * (outbound).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { makeStatus } from "../../src/connector/Status.ts"

interface Shown {
  readonly state: string
  readonly lastInboundAt: number | undefined
  readonly lastOutboundAt: number | undefined
}

const initial: Shown = { state: "connecting", lastInboundAt: undefined, lastOutboundAt: undefined }

describe("Status", () => {
  it.effect("update merges a patch into the status and keeps the rest", () =>
    Effect.gen(function*() {
      const status = yield* makeStatus(initial)
      yield* status.markInbound(5_000)
      yield* status.update({ state: "connected" })
      assert.deepStrictEqual(yield* status.get, { state: "connected", lastInboundAt: 5_000, lastOutboundAt: undefined })
    }))

  it.effect("lastInboundAt moves only once the message is a second later than the last shown", () =>
    Effect.gen(function*() {
      const status = yield* makeStatus(initial)
      const seen: Array<number | undefined> = []
      const follower = yield* Effect.forkChild(Stream.runForEach(status.changes, (s) => Effect.sync(() => seen.push(s.lastInboundAt))))
      yield* Effect.yieldNow
      for (const at of [10_000, 10_500, 10_999, 11_000, 11_001, 13_500]) yield* status.markInbound(at)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(follower)
      assert.deepStrictEqual(seen, [undefined, 10_000, 11_000, 13_500], "one change per second at most, none for the rest")
    }))

  it.effect("lastOutboundAt takes the clock's time, a second apart at least, apart from lastInboundAt", () =>
    Effect.gen(function*() {
      const status = yield* makeStatus(initial)
      yield* TestClock.setTime(20_000)
      yield* status.markOutbound
      yield* status.markInbound(20_000)
      yield* TestClock.adjust("999 millis")
      yield* status.markOutbound
      assert.strictEqual((yield* status.get).lastOutboundAt, 20_000, "under a second later: not moved")
      yield* TestClock.adjust("1 millis")
      yield* status.markOutbound
      const now = yield* status.get
      assert.strictEqual(now.lastOutboundAt, 21_000)
      assert.strictEqual(now.lastInboundAt, 20_000, "the throttles are kept apart")
    }))
})

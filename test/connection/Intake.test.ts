/**
 * The inbound edge of a link (`src/connection/Intake.ts`): frames handled synchronously as they
 * arrive; while a frame's effect runs the rest wait in order, a large backlog pauses the socket,
 * and the end comes only after every frame that arrived before it.
 */
import { describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { assert } from "vitest"
import { type FrameHandler, makeIntake } from "../../src/connection/Intake.ts"

const setup = (handle: FrameHandler, highWaterMark = 1000) => {
  const events: Array<string> = []
  const intake = makeIntake<string>({
    handle,
    pause: () => void events.push("pause"),
    resume: () => void events.push("resume"),
    busy: (busy) => void events.push(busy ? "busy" : "idle"),
    highWaterMark
  })
  return { intake, events }
}

describe("Intake", () => {
  it.effect("a frame that needs nothing more is handled at once, with no effect and no fiber turn", () =>
    Effect.gen(function*() {
      const handled: Array<string> = []
      const { intake, events } = setup((frame) => void handled.push(String(frame)))
      const run = yield* Effect.forkChild(intake.run)
      yield* Effect.yieldNow
      intake.onFrame("a")
      intake.onFrame("b")
      // Synchronously: nothing has yielded since the frames came.
      assert.deepStrictEqual(handled, ["a", "b"])
      assert.deepStrictEqual(events, ["idle"])
      yield* Fiber.interrupt(run)
    }))

  it.effect("frames that arrive before the run starts wait for it, in order", () =>
    Effect.gen(function*() {
      const handled: Array<string> = []
      const { intake } = setup((frame) => void handled.push(String(frame)))
      intake.onFrame("early 1")
      intake.onFrame("early 2")
      assert.deepStrictEqual(handled, [], "not before the link is serving")
      const run = yield* Effect.forkChild(intake.run)
      yield* Effect.yieldNow
      intake.onFrame("later")
      assert.deepStrictEqual(handled, ["early 1", "early 2", "later"])
      yield* Fiber.interrupt(run)
    }))

  it.effect("while a frame's effect runs, later frames wait and are handled in order after it", () =>
    Effect.gen(function*() {
      const handled: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const { intake, events } = setup((frame) => {
        const text = String(frame)
        if (text === "slow") return Effect.andThen(Deferred.await(gate), Effect.sync(() => void handled.push(text)))
        if (text === "effect") return Effect.sync(() => void handled.push(text))
        handled.push(text)
        return undefined
      })
      const run = yield* Effect.forkChild(intake.run)
      yield* Effect.yieldNow
      intake.onFrame("slow")
      intake.onFrame("a")
      intake.onFrame("effect")
      intake.onFrame("b")
      yield* Effect.yieldNow
      assert.deepStrictEqual(handled, [], "nothing overtakes the frame whose effect is running")
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      assert.deepStrictEqual(handled, ["slow", "a", "effect", "b"])
      assert.deepStrictEqual(events, ["idle", "busy", "idle"], "busy once, for the whole backlog")
      yield* Fiber.interrupt(run)
    }))

  it.effect("a backlog over the high-water mark pauses the socket until it is handled", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { intake, events } = setup((frame) => frame === "slow" ? Deferred.await(gate) : undefined, 10)
      const run = yield* Effect.forkChild(intake.run)
      yield* Effect.yieldNow
      intake.onFrame("slow")
      intake.onFrame("12345")
      assert.notInclude(events, "pause", "below the mark")
      intake.onFrame("67890")
      assert.deepStrictEqual(events.filter((e) => e === "pause"), ["pause"], "paused at the mark")
      intake.onFrame("more")
      assert.deepStrictEqual(events.filter((e) => e === "pause"), ["pause"], "paused once")
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      assert.deepStrictEqual(events.slice(-2), ["idle", "resume"])
      yield* Fiber.interrupt(run)
    }))

  it.effect("the end comes after every frame that arrived before it, with its error", () =>
    Effect.gen(function*() {
      const handled: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const { intake } = setup((frame) => {
        const text = String(frame)
        if (text === "slow") return Deferred.await(gate)
        handled.push(text)
        return undefined
      })
      const run = yield* Effect.forkChild(intake.run)
      yield* Effect.yieldNow
      intake.onFrame("slow")
      intake.onFrame("a")
      intake.end("closed")
      intake.onFrame("after the end")
      yield* Deferred.succeed(gate, undefined)
      const exit = yield* Fiber.await(run)
      assert.deepStrictEqual(handled, ["a"])
      assert.deepStrictEqual(exit, Exit.fail("closed"))
    }))

  it.effect("a handler that throws ends the run with that defect", () =>
    Effect.gen(function*() {
      const { intake } = setup(() => {
        throw new Error("boom")
      })
      const run = yield* Effect.forkChild(intake.run)
      yield* Effect.yieldNow
      intake.onFrame("x")
      const exit = yield* Fiber.await(run)
      assert.isTrue(Exit.hasDies(exit))
    }))
})

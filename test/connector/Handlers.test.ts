/**
 * The connector's background work and its graceful end (`src/connector/Handlers.ts`), under
 * TestClock: shutdown closes the intake first, waits for work that finishes within the grace
 * period, and gives up on the rest with a warning once it is over.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import { makeHandlers } from "../../src/connector/Handlers.ts"
import * as InstaLogger from "../../src/Logger.ts"
import { captureSink } from "../support/logs.ts"

/** No reply waiting for its confirmation. */
const noReplies = { unsettled: () => 0, idle: Effect.void }

/** Handlers with one piece of work of `seconds`, an intake scope, and the shutdown forked. */
const shutdownWith = (seconds: number | undefined, gracePeriod: number) =>
  Effect.gen(function*() {
    const logs = captureSink()
    const handlers = yield* makeHandlers
    let finished = false
    if (seconds !== undefined) {
      yield* handlers.run(Effect.andThen(Effect.sleep(Duration.seconds(seconds)), Effect.sync(() => void (finished = true))))
    }
    let intakeClosed = false
    const intake = yield* Scope.make()
    yield* Scope.addFinalizer(intake, Effect.sync(() => void (intakeClosed = true)))
    const shutdown = yield* Effect.forkChild(
      handlers.shutdown(intake, gracePeriod, noReplies).pipe(Effect.provide(InstaLogger.layer({ debug: true, sink: logs.sink })))
    )
    yield* Effect.yieldNow
    return { logs, shutdown, finished: () => finished, intakeClosed: () => intakeClosed }
  })

describe("Handlers", () => {
  it.effect("shutdown closes the intake first, then waits for work that finishes within the grace period", () =>
    Effect.gen(function*() {
      const { logs, shutdown, finished, intakeClosed } = yield* shutdownWith(3, 5_000)
      assert.isTrue(intakeClosed(), "no more messages from the start")
      assert.isUndefined(shutdown.pollUnsafe(), "waiting for the reply")
      yield* TestClock.adjust("3 seconds")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(shutdown)))
      assert.isTrue(finished())
      assert.include(logs.text(), "Shutting down: waiting up to 5000 ms for 1 replies")
      assert.notInclude(logs.text(), "grace period over")
    }))

  it.effect("work that outlives the grace period is given up with a warning", () =>
    Effect.gen(function*() {
      const { logs, shutdown, finished } = yield* shutdownWith(60, 5_000)
      yield* TestClock.adjust("4999 millis")
      assert.isUndefined(shutdown.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(shutdown)))
      assert.isFalse(finished())
      assert.isTrue(logs.lines.some((l) => l.method === "warn" && l.line.includes("Shutdown grace period over; interrupting unfinished replies")))
    }))

  it.effect("with nothing running, shutdown ends at once and says nothing", () =>
    Effect.gen(function*() {
      const { logs, shutdown, intakeClosed } = yield* shutdownWith(undefined, 5_000)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(shutdown)))
      assert.isTrue(intakeClosed())
      assert.deepStrictEqual(logs.lines, [])
    }))

  it.effect("replies written but not yet settled keep the shutdown waiting until they are, within the grace period", () =>
    Effect.gen(function*() {
      const logs = captureSink()
      const handlers = yield* makeHandlers
      const settled = yield* Deferred.make<void>()
      const intake = yield* Scope.make()
      const replies = { unsettled: () => (Deferred.isDoneUnsafe(settled) ? 0 : 2), idle: Deferred.await(settled) }
      const shutdown = yield* Effect.forkChild(
        handlers.shutdown(intake, 5_000, replies).pipe(Effect.provide(InstaLogger.layer({ debug: true, sink: logs.sink })))
      )
      yield* TestClock.adjust("4 seconds")
      assert.isUndefined(shutdown.pollUnsafe(), "waiting for the two replies' pongs")
      assert.include(logs.text(), "Shutting down: waiting up to 5000 ms for 2 replies")
      yield* Deferred.succeed(settled, undefined)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(shutdown)))
      assert.notInclude(logs.text(), "grace period over")
    }))

  it.effect("replies never settled are given up when the grace period is over", () =>
    Effect.gen(function*() {
      const logs = captureSink()
      const handlers = yield* makeHandlers
      const intake = yield* Scope.make()
      const shutdown = yield* Effect.forkChild(
        handlers.shutdown(intake, 5_000, { unsettled: () => 1, idle: Effect.never }).pipe(
          Effect.provide(InstaLogger.layer({ debug: true, sink: logs.sink }))
        )
      )
      yield* TestClock.adjust("5 seconds")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(shutdown)))
      assert.include(logs.text(), "Shutdown grace period over")
    }))
})

/**
 * Delivery confirmation's ping accounting (`src/connection/Pings.ts`): confirmations asked for in
 * the same turn share one ping; a pong answers only the ping it belongs to; a heartbeat ping in
 * between keeps the numbering; the link's end fails every waiter.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { assert } from "vitest"
import { makePings } from "../../src/connection/Pings.ts"

const setup = () => {
  let open = true
  let count = 0
  const pings = makePings({ ping: () => void count++, isOpen: () => open })
  return { pings, sent: () => count, close: () => void (open = false) }
}

/** Lets the microtask that sends a turn's shared ping run. */
const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("Pings", () => {
  it.effect("confirmations asked for together share one ping, and its pong answers all of them", () =>
    Effect.gen(function*() {
      const { pings, sent } = setup()
      const waiting = yield* Effect.all([pings.confirm, pings.confirm, pings.confirm], { concurrency: "unbounded" }).pipe(Effect.forkChild)
      yield* turn
      assert.strictEqual(sent(), 1, "one ping for three confirmations")
      pings.onPong()
      const exit = yield* Fiber.await(waiting)
      assert.isTrue(Exit.isSuccess(exit))
    }))

  it.effect("a later confirmation gets a ping of its own: the earlier pong does not answer it", () =>
    Effect.gen(function*() {
      const { pings, sent } = setup()
      const first = yield* Effect.forkChild(pings.confirm)
      yield* turn
      const second = yield* Effect.forkChild(pings.confirm)
      yield* turn
      assert.strictEqual(sent(), 2)
      pings.onPong()
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(first)))
      yield* turn
      assert.isUndefined(second.pollUnsafe(), "still waiting for the second pong")
      pings.onPong()
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(second)))
    }))

  it.effect("a heartbeat ping sent before the confirmation's is answered first and confirms nothing", () =>
    Effect.gen(function*() {
      const { pings, sent } = setup()
      pings.send() // the heartbeat
      const waiting = yield* Effect.forkChild(pings.confirm)
      yield* turn
      assert.strictEqual(sent(), 2)
      pings.onPong() // the heartbeat's
      yield* turn
      assert.isUndefined(waiting.pollUnsafe())
      pings.onPong()
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(waiting)))
    }))

  it.effect("the link's end fails every waiting confirmation, sent or not yet sent", () =>
    Effect.gen(function*() {
      const { pings, close } = setup()
      const sentAlready = yield* Effect.forkChild(pings.confirm)
      yield* turn
      const notYet = yield* Effect.forkChild(pings.confirm)
      yield* Effect.yieldNow
      close()
      pings.failAll()
      for (const fiber of [sentAlready, notYet]) {
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit))
      }
      const late = yield* Effect.exit(pings.confirm)
      assert.isTrue(Exit.isFailure(late), "a closed link fails a confirmation at once")
    }))
})

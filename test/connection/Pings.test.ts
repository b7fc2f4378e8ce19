/**
 * Delivery confirmation's ping accounting (`src/connection/Pings.ts`): confirmations asked for in
 * the same turn share one ping; at most one confirmation ping is unanswered at a time; a pong answers only the ping it belongs to; a heartbeat ping in
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

  it.effect("one confirmation ping in flight: a later confirmation waits for its pong, then gets the next ping", () =>
    Effect.gen(function*() {
      const { pings, sent } = setup()
      const first = yield* Effect.forkChild(pings.confirm)
      yield* turn
      const second = yield* Effect.forkChild(pings.confirm)
      const third = yield* Effect.forkChild(pings.confirm)
      yield* turn
      assert.strictEqual(sent(), 1, "no second ping while the first is unanswered")
      pings.onPong()
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(first)))
      assert.strictEqual(sent(), 2, "the pong sends the ping the later confirmations share")
      yield* turn
      assert.isUndefined(second.pollUnsafe(), "the first pong does not answer the later confirmations")
      pings.onPong()
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(second)))
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(third)))
      assert.strictEqual(sent(), 2)
    }))

  it.effect("a burst of confirmations never has more than one ping unanswered", () =>
    Effect.gen(function*() {
      const { pings, sent } = setup()
      const fibers = []
      let pongs = 0
      for (let round = 0; round < 50; round++) {
        fibers.push(yield* Effect.forkChild(pings.confirm))
        yield* turn
        assert.isAtMost(sent() - pongs, 1, `round ${round}: unanswered pings`)
        // The server answers only every fifth turn, as one that writes faster than it reads.
        if (round % 5 === 4 && sent() > pongs) {
          pongs++
          pings.onPong()
        }
      }
      while (sent() > pongs) {
        pongs++
        pings.onPong()
        yield* turn
      }
      for (const fiber of fibers) assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
      assert.isAtMost(sent(), 11, "confirmations share pings")
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

  it.effect("confirmThen: callbacks asked together share one ping and hear true on its pong; a later one gets the next ping; false when the link ends or is not open", () =>
    Effect.gen(function*() {
      const { pings, sent, close } = setup()
      const heard: Array<string> = []
      pings.confirmThen((confirmed) => void heard.push(`a ${confirmed}`))
      pings.confirmThen((confirmed) => void heard.push(`b ${confirmed}`))
      yield* turn
      assert.strictEqual(sent(), 1, "one ping for both")
      pings.confirmThen((confirmed) => void heard.push(`c ${confirmed}`))
      yield* turn
      assert.strictEqual(sent(), 1, "c does not join the ping in flight: its pong proves nothing written after it")
      pings.onPong()
      assert.deepStrictEqual(heard, ["a true", "b true"])
      assert.strictEqual(sent(), 2, "c's own ping, once the first pong came")
      pings.failAll()
      assert.deepStrictEqual(heard, ["a true", "b true", "c false"], "the link ended before c's pong")
      close()
      pings.confirmThen((confirmed) => void heard.push(`d ${confirmed}`))
      assert.deepStrictEqual(heard, ["a true", "b true", "c false", "d false"], "not open: false at once")
    }))
})

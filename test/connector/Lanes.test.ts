/**
 * When each message is answered (`src/connector/Lanes.ts`): one conversation in order, several
 * at once up to the concurrency bound, the agent's own ordering, and the pending bound — whose
 * wait stops the sweep (`waiting`) and is reported (`onWaited`) so the assembler can discount it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, FiberSet } from "effect"
import { TestClock } from "effect/testing"
import { makeLanes } from "../../src/connector/Lanes.ts"
import type { InboundMessage } from "../../src/Protocol.ts"

const message = (conversationId: string, text: string): InboundMessage => ({
  conversationId,
  senderId: "u1",
  responseId: `resp_${text}`,
  messageId: `msg_${text}`,
  text,
  receivedAt: 0
})

/** Lets forked fibers run until they wait. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

/** Lanes whose answers each wait for their own gate; `started` and `finished` record the order. */
const setup = (options: {
  readonly ordering?: "connector" | "agent"
  readonly maxConcurrent?: number
  readonly maxPending?: number
  readonly reading?: () => boolean
}) =>
  Effect.gen(function*() {
    const started: Array<string> = []
    const finished: Array<string> = []
    const waited: Array<number> = []
    const gates = new Map<string, Deferred.Deferred<void>>()
    const gate = (text: string) => {
      if (!gates.has(text)) gates.set(text, Deferred.makeUnsafe<void>())
      return gates.get(text)!
    }
    const background = yield* FiberSet.make<void, never>()
    const lanes = yield* makeLanes({
      answer: (m) =>
        Effect.gen(function*() {
          started.push(m.text)
          yield* Deferred.await(gate(m.text))
          finished.push(m.text)
        }),
      run: (effect) => FiberSet.run(background, effect),
      ordering: options.ordering ?? "connector",
      maxConcurrent: options.maxConcurrent ?? 10,
      maxPending: options.maxPending,
      onWaited: (millis) => void waited.push(millis),
      reading: options.reading
    })
    const release = (text: string) => Effect.andThen(Deferred.succeed(gate(text), undefined), settle)
    return { lanes, started, finished, waited, release }
  })

describe("Lanes", () => {
  it.effect("a conversation's messages are answered one after the other, in the order they came", () =>
    Effect.gen(function*() {
      const { lanes, release, started, finished } = yield* setup({})
      for (const text of ["a1", "a2", "a3"]) yield* lanes.enqueue(message("a", text))
      yield* settle
      assert.deepStrictEqual(started, ["a1"])
      yield* release("a1")
      assert.deepStrictEqual(started, ["a1", "a2"])
      yield* release("a3")
      assert.deepStrictEqual(started, ["a1", "a2"], "a3 waits for a2 even with its own answer ready")
      yield* release("a2")
      assert.deepStrictEqual(finished, ["a1", "a2", "a3"])
    }))

  it.effect("different conversations are answered at once, at most maxConcurrent at a time", () =>
    Effect.gen(function*() {
      const { lanes, release, started } = yield* setup({ maxConcurrent: 2 })
      for (const conversation of ["a", "b", "c"]) yield* lanes.enqueue(message(conversation, `${conversation}1`))
      yield* settle
      assert.deepStrictEqual(started, ["a1", "b1"])
      yield* release("b1")
      assert.deepStrictEqual(started, ["a1", "b1", "c1"])
    }))

  it.effect("with the agent's own ordering, a conversation's messages all reach the agent at once", () =>
    Effect.gen(function*() {
      const { lanes, started } = yield* setup({ ordering: "agent", maxConcurrent: 5 })
      for (const text of ["a1", "a2", "a3"]) yield* lanes.enqueue(message("a", text))
      yield* settle
      assert.deepStrictEqual(started, ["a1", "a2", "a3"])
    }))

  it.effect("past maxPending, enqueue waits for room; the wait shows in waiting() and is reported", () =>
    Effect.gen(function*() {
      const { lanes, release, started, waited } = yield* setup({ maxPending: 2 })
      yield* lanes.enqueue(message("a", "a1"))
      yield* lanes.enqueue(message("b", "b1"))
      assert.isFalse(lanes.waiting())
      const third = yield* Effect.forkChild(lanes.enqueue(message("c", "c1")))
      yield* settle
      assert.isTrue(lanes.waiting(), "the third message waits for room")
      assert.isUndefined(third.pollUnsafe())
      yield* TestClock.adjust("3 seconds")
      yield* release("a1")
      yield* Fiber.join(third)
      assert.isFalse(lanes.waiting())
      assert.deepStrictEqual(waited, [3000], "the time spent waiting, reported once")
      yield* settle
      assert.deepStrictEqual(started, ["a1", "b1", "c1"])
    }))

  it.effect("an enqueue that finds room reports no wait", () =>
    Effect.gen(function*() {
      const { lanes, waited } = yield* setup({ maxPending: 2 })
      yield* lanes.enqueue(message("a", "a1"))
      yield* TestClock.adjust("1 second")
      yield* lanes.enqueue(message("a", "a2"))
      assert.deepStrictEqual(waited, [])
    }))

  it.effect("once the link being read has closed, a message waiting for room is taken over the bound; the bound is whole again once all are answered", () =>
    Effect.gen(function*() {
      let open = true
      const { lanes, release, started } = yield* setup({ maxPending: 2, reading: () => open })
      yield* lanes.enqueue(message("a", "a1"))
      yield* lanes.enqueue(message("b", "b1"))
      const third = yield* Effect.forkChild(lanes.enqueue(message("c", "c1")))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.isUndefined(third.pollUnsafe(), "no room while the link is open: the intake waits")
      open = false
      yield* TestClock.adjust("50 millis")
      yield* Fiber.join(third)
      yield* settle
      assert.deepStrictEqual(started, ["a1", "b1", "c1"], "taken over the bound, and answered")
      for (const text of ["a1", "b1", "c1"]) yield* release(text)
      // Room is counted right: two may wait again, not three (the one over the bound freed none).
      open = true
      yield* lanes.enqueue(message("d", "d1"))
      yield* lanes.enqueue(message("e", "e1"))
      const sixth = yield* Effect.forkChild(lanes.enqueue(message("f", "f1")))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.isUndefined(sixth.pollUnsafe(), "the bound is 2 again")
      yield* release("d1")
      yield* Fiber.join(sixth)
    }))
})

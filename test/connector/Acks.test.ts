/**
 * Acks (`src/connector/Acks.ts`, docs/PROTOCOL.md §7): a message is acknowledged only after its
 * reply reached the server and the dedupe store holds its id; a reply that could not be sent is
 * not acknowledged; a redelivery is acknowledged again unless its answer is still under way.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import type { AckTarget } from "../../src/Connection.ts"
import { makeAcks } from "../../src/connector/Acks.ts"
import type { DedupeStoreShape } from "../../src/DedupeStore.ts"

const setup = Effect.gen(function*() {
  const steps: Array<string> = []
  const given: Array<AckTarget> = []
  const store: DedupeStoreShape = {
    load: Effect.succeed([]),
    remember: (id) => Effect.sync(() => void steps.push(`remember ${id}`)),
    flushed: Effect.sync(() => void steps.push("flushed"))
  }
  const acks = yield* makeAcks({
    store,
    acknowledge: (targets: ReadonlyArray<AckTarget>) =>
      Effect.sync(() => {
        steps.push(`ack ${targets.map((t) => t.responseId).join(",")}`)
        given.push(...targets)
        return targets.length
      })
  })
  const fiber = yield* Effect.forkChild(acks.run)
  const settle = Effect.gen(function*() {
    for (let i = 0; i < 10; i++) yield* Effect.yieldNow
  })
  return { acks, steps, given, settle, stop: Fiber.interrupt(fiber) }
})

const message = (responseId: string) => ({ conversationId: "conv_1", responseId })

describe("Acks", () => {
  it.effect("an ack waiting to go out holds the message's two ids, not the message (its text, its media)", () =>
    Effect.gen(function*() {
      const { acks, given, settle, stop } = yield* setup
      const whole = { ...message("r1"), text: "a long message", media: [{ kind: "image", url: "https://cdn.example/a.png" }] }
      acks.taken("r1")
      yield* acks.settled(whole, true)
      yield* acks.again({ ...message("r0"), text: "sent again" } as AckTarget, true)
      yield* settle
      yield* stop
      assert.deepStrictEqual(given, [message("r1"), message("r0")])
    }))

  it.effect("an answered message: its id stored, the store flushed, then the ack", () =>
    Effect.gen(function*() {
      const { acks, settle, steps, stop } = yield* setup
      acks.taken("r1")
      yield* acks.settled(message("r1"), true)
      yield* settle
      assert.deepStrictEqual(steps, ["remember r1", "flushed", "ack r1"])
      yield* stop
    }))

  it.effect("a reply that could not be sent: neither stored nor acknowledged (the server sends it again)", () =>
    Effect.gen(function*() {
      const { acks, settle, steps, stop } = yield* setup
      acks.taken("r1")
      yield* acks.settled(message("r1"), false)
      yield* settle
      assert.deepStrictEqual(steps, [])
      yield* stop
    }))

  it.effect("a redelivery while the answer is under way waits for it; afterwards it is acknowledged again", () =>
    Effect.gen(function*() {
      const { acks, settle, steps, stop } = yield* setup
      acks.taken("r1")
      yield* acks.again(message("r1"), true)
      yield* settle
      assert.deepStrictEqual(steps, [], "no ack before the answer reached the server")
      yield* acks.settled(message("r1"), true)
      yield* acks.again(message("r1"), true)
      yield* settle
      assert.deepStrictEqual(steps.filter((step) => step.startsWith("ack")).join(","), "ack r1,r1", "one batch, two acks")
      yield* stop
    }))

  it.effect("acks that come together go out in one batch, after one flush", () =>
    Effect.gen(function*() {
      const { acks, settle, steps, stop } = yield* setup
      for (const id of ["a", "b", "c"]) {
        acks.taken(id)
        yield* acks.settled(message(id), true)
      }
      yield* settle
      assert.deepStrictEqual(steps, ["remember a", "remember b", "remember c", "flushed", "ack a,b,c"])
      yield* stop
    }))

  it.effect("drain sends what is still queued: the connector's close does not leave the last acks behind", () =>
    Effect.gen(function*() {
      const { acks, settle, steps, stop } = yield* setup
      yield* stop // as on close: the background sender is gone, its last batch not taken
      acks.taken("r9")
      yield* acks.settled(message("r9"), true)
      yield* settle
      assert.deepStrictEqual(steps, ["remember r9"])
      yield* acks.drain
      assert.deepStrictEqual(steps, ["remember r9", "flushed", "ack r9"])
      yield* acks.drain
      assert.strictEqual(steps.length, 3, "nothing left to send")
    }))
})

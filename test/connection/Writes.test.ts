/**
 * One link's writes (`src/connection/Writes.ts`) against a fake handle whose writes call back only
 * when the test says the OS has them: below the 1 MiB mark a write goes on at once; a write that
 * would pass it is refused by `tryWriteAll` with nothing written, and waited for by `writeAll`
 * until the handle calls back; a closed handle, a failed write and the link's end fail writers.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { assert } from "vitest"
import { HIGH_WATER_MARK, makeWrites } from "../../src/connection/Writes.ts"
import type { TextFrame, WebSocketHandle } from "../../src/WebSocketHandle.ts"

const utf8 = new TextDecoder()

const setup = () => {
  let open = true
  const sent: Array<string> = []
  const pending: Array<(error?: Error) => void> = []
  const handle: Pick<WebSocketHandle, "sendText"> = {
    sendText: (data: TextFrame, done) => {
      sent.push(typeof data === "string" ? data : utf8.decode(data))
      pending.push(done)
    }
  }
  const writes = makeWrites(handle, () => open)
  return {
    writes,
    sent,
    /** The OS has written the `count` oldest frames handed over (ws calls back in order). */
    written: (count = pending.length, error?: Error) => {
      for (const done of pending.splice(0, count)) done(error)
    },
    unacknowledged: () => pending.length,
    close: () => void (open = false)
  }
}

const reasonOf = (exit: Exit.Exit<void, { readonly reason: { readonly _tag: string } }>) =>
  Exit.isFailure(exit) ? exit.cause.reasons.flatMap((r) => (r._tag === "Fail" ? [r.error.reason._tag] : [])) : []

describe("Writes", () => {
  it.effect("below the mark a write goes on at once, before the OS has it; frames leave in order", () =>
    Effect.gen(function*() {
      const { writes, sent, unacknowledged } = setup()
      assert.isTrue(writes.tryWriteAll(["a", "b"]))
      // Up to the mark exactly, counting what has not called back yet.
      assert.isTrue(writes.tryWriteAll(["x".repeat(HIGH_WATER_MARK - 3)]))
      yield* writes.writeAll([new TextEncoder().encode("c")])
      assert.deepStrictEqual(sent.map((frame) => frame.slice(0, 1)), ["a", "b", "x", "c"])
      assert.strictEqual(unacknowledged(), 4, "nothing waited for the OS")
      assert.isTrue(writes.tryWriteAll([]), "nothing to write is written")
    }))

  it.effect("a write that would pass the mark is refused by tryWriteAll with nothing written; once the OS has the earlier frames, it goes on", () =>
    Effect.gen(function*() {
      const { writes, sent, written } = setup()
      assert.isTrue(writes.tryWriteAll(["x".repeat(HIGH_WATER_MARK)]))
      assert.isFalse(writes.tryWriteAll(["one more", "and another"]))
      assert.strictEqual(sent.length, 1, "nothing of the refused batch was handed over")
      written()
      assert.isTrue(writes.tryWriteAll(["one more", "and another"]))
      assert.deepStrictEqual(sent.slice(1), ["one more", "and another"])
    }))

  it.effect("the mark counts bytes of encoded frames", () =>
    Effect.gen(function*() {
      const { writes } = setup()
      assert.isTrue(writes.tryWriteAll([new Uint8Array(HIGH_WATER_MARK - 1)]))
      assert.isFalse(writes.tryWriteAll([new Uint8Array(2)]))
      assert.isTrue(writes.tryWriteAll([new Uint8Array(1)]))
    }))

  it.effect("writeAll over the mark hands its frames over and waits until the handle calls back for them", () =>
    Effect.gen(function*() {
      const { writes, sent, written } = setup()
      assert.isTrue(writes.tryWriteAll(["x".repeat(HIGH_WATER_MARK - 1)]))
      const waiting = yield* Effect.forkChild(writes.writeAll(["tail 1", "tail 2"]))
      yield* Effect.yieldNow
      assert.deepStrictEqual(sent.slice(1), ["tail 1", "tail 2"], "handed to ws at once, in order")
      assert.isUndefined(waiting.pollUnsafe(), "waits while over the mark")
      written(2) // the big frame and the first of the batch
      yield* Effect.yieldNow
      assert.isUndefined(waiting.pollUnsafe(), "still waits for the batch's last frame")
      written(1)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(waiting)))
      // Everything called back: below the mark again.
      assert.isTrue(writes.tryWriteAll(["after"]))
    }))

  it.effect("a waiting write that the OS fails fails with NotConnected", () =>
    Effect.gen(function*() {
      const { writes, written } = setup()
      assert.isTrue(writes.tryWriteAll(["x".repeat(HIGH_WATER_MARK)]))
      const waiting = yield* Effect.forkChild(writes.writeAll(["tail"]))
      yield* Effect.yieldNow
      written(1)
      written(1, new Error("EPIPE"))
      assert.deepStrictEqual(reasonOf(yield* Fiber.await(waiting)), ["NotConnected"])
    }))

  it.effect("a closed handle: tryWriteAll refuses and writeAll fails with NotConnected, with nothing written", () =>
    Effect.gen(function*() {
      const { writes, sent, close } = setup()
      close()
      assert.isFalse(writes.tryWriteAll(["a"]))
      assert.deepStrictEqual(reasonOf(yield* Effect.exit(writes.writeAll(["b"]))), ["NotConnected"])
      assert.deepStrictEqual(sent, [])
    }))

  it.effect("the link's end (failAll) fails every writer still waiting, whose callbacks may never come", () =>
    Effect.gen(function*() {
      const { writes, close } = setup()
      assert.isTrue(writes.tryWriteAll(["x".repeat(HIGH_WATER_MARK)]))
      const first = yield* Effect.forkChild(writes.writeAll(["one"]))
      const second = yield* Effect.forkChild(writes.writeAll(["two"]))
      yield* Effect.yieldNow
      assert.isUndefined(first.pollUnsafe())
      close()
      writes.failAll()
      assert.deepStrictEqual(reasonOf(yield* Fiber.await(first)), ["NotConnected"])
      assert.deepStrictEqual(reasonOf(yield* Fiber.await(second)), ["NotConnected"])
    }))
})

/**
 * Answered ids that outlive the process: the file store alone (under `TestClock`), and a real
 * restart against the reference server, which redelivers what it sent before.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Agent } from "../src/Agent.ts"
import * as DedupeStore from "../src/DedupeStore.ts"
import { startConnector, startServer, waitFor } from "./support/harness.ts"

const tempFile = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "instaclaw-dedupe-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => join(dir, "nested", "answered.txt")))

/** Builds the file store in its own scope; `close` flushes it. */
const openStore = (path: string, options: Parameters<typeof DedupeStore.layerFile>[1] = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(DedupeStore.layerFile(path, options), scope)
    const store = Context.get(context, DedupeStore.DedupeStore)
    return { store, close: Scope.close(scope, Exit.void) }
  })

describe("DedupeStore.layerFile", () => {
  it.effect("writes in the background, not on remember; a new run loads what the last one answered", () =>
    Effect.gen(function*() {
      const path = yield* tempFile
      const first = yield* openStore(path, { flushInterval: "1 second" })
      assert.deepStrictEqual(yield* first.store.load, [])
      yield* first.store.remember("resp_a")
      yield* first.store.remember("resp_b")
      assert.throws(() => readFileSync(path, "utf8"), /ENOENT/, "nothing written yet: remember only buffers")
      yield* TestClock.adjust("1 second")
      const written = () => existsSync(path) && readFileSync(path, "utf8").includes("resp_b")
      while (!written()) yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
      yield* first.store.remember("resp_c")
      yield* first.close
      const second = yield* openStore(path)
      assert.deepStrictEqual(yield* second.store.load, ["resp_a", "resp_b", "resp_c"], "the last ids flushed on close")
      yield* second.close
    }))

  it.effect("flushed writes what was remembered before it, at once: the barrier an acknowledgement waits for", () =>
    Effect.gen(function*() {
      const path = yield* tempFile
      const store = yield* openStore(path, { flushInterval: "1 hour" })
      yield* store.store.remember("resp_a")
      yield* store.store.remember("resp_b")
      yield* Effect.all([store.store.flushed, store.store.flushed], { concurrency: "unbounded" })
      assert.deepStrictEqual(readFileSync(path, "utf8").trim().split("\n"), ["resp_a", "resp_b"], "each id written once")
      yield* store.store.flushed
      assert.deepStrictEqual(readFileSync(path, "utf8").trim().split("\n"), ["resp_a", "resp_b"], "nothing new: nothing written")
      yield* store.close
    }))

  it.effect("stays bounded: past twice the capacity the file keeps the newest ids", () =>
    Effect.gen(function*() {
      const path = yield* tempFile
      const store = yield* openStore(path, { capacity: 3 })
      for (const id of ["r1", "r2", "r3", "r4", "r5", "r6", "r7"]) yield* store.store.remember(id)
      yield* store.close
      assert.deepStrictEqual(readFileSync(path, "utf8").trim().split("\n"), ["r5", "r6", "r7"])
      const again = yield* openStore(path, { capacity: 3 })
      assert.deepStrictEqual(yield* again.store.load, ["r5", "r6", "r7"])
      yield* again.close
    }))
})

describe("a restart", () => {
  it.effect("a message the server redelivers after the connector restarted is answered once", () =>
    Effect.gen(function*() {
      const path = yield* tempFile
      const { events, server } = yield* startServer()
      const before = yield* startConnector(server.url, Agent.echo, {}, { dedupeFile: path })
      yield* waitFor(events, "ClientConnected")
      const { responseId } = yield* server.sendUserMessage({ conversationId: "c", text: "answer me once" })
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "answer me once")
      yield* before.close
      assert.strictEqual(yield* server.unacknowledged, 0, "acknowledged before the connector closed")

      const after = yield* startConnector(server.url, Agent.echo, { debug: true }, { dedupeFile: path })
      // Once the new link has said hello: a server sends nothing to a v2 link before.
      yield* waitFor(events, "Hello")
      yield* server.redeliver(responseId)
      yield* server.sendUserMessage({ conversationId: "c", text: "marker" })
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "marker", "no second reply to the redelivery")
      assert.match(after.logs.text(), /Dropped a redelivered envelope/)
      assert.notMatch(after.logs.text(), /Protocol violation/)
    }))
})

/**
 * Where the ids of answered responses outlive the process, so a server that redelivers
 * unacknowledged messages after a restart gets each one answered once (docs/PROTOCOL.md §5).
 *
 * - `DedupeStore.memory` (the default): nothing survives a restart.
 * - `DedupeStore.layerFile(path)`: one id per line in `path`. `remember` only appends to a
 *   buffer; a background fiber writes it every `flushInterval` and when the scope closes, so the
 *   hot path never waits on the disk. `flushed` writes the buffer now (joining a write under
 *   way): the connector acknowledges a message to the server only after it (docs/PROTOCOL.md
 *   §7), so a message acknowledged before a crash is never lost nor answered again. The file
 *   holds at most `2 × capacity` ids (ids are at most 256 characters, `Wire.MAX_ID_LENGTH`);
 *   past that it is rewritten with the newest `capacity`. Inside OpenClaw the plugin keeps one
 *   file per account in its state directory.
 *
 * Another implementation (a store several gateways share, say) provides the same three: `load`
 * (the recent answered ids, bounded), `remember` (returns at once; never fails the caller) and
 * `flushed` (a barrier: what was remembered before it is where a restarted connector finds it).
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schedule, Semaphore } from "effect"
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { dirname } from "node:path"

export interface DedupeStoreShape {
  /** Ids answered before this run, oldest first. */
  readonly load: Effect.Effect<ReadonlyArray<string>>
  /** Remembers one answered id; returns at once. */
  readonly remember: (id: string) => Effect.Effect<void>
  /** Returns once every id remembered before it would be found by `load` after a restart. */
  readonly flushed: Effect.Effect<void>
}

/** Remembers nothing beyond the process: nothing to wait for. */
export const memory: DedupeStoreShape = { load: Effect.succeed([]), remember: () => Effect.void, flushed: Effect.void }

/** The store the connector uses: `memory` unless a layer provides another. */
export const DedupeStore = Context.Reference<DedupeStoreShape>("insta-claw/DedupeStore", { defaultValue: () => memory })

/** Keeps answered ids in `path` (created with its folder if missing). */
export const layerFile = (
  path: string,
  options: { readonly capacity?: number | undefined; readonly flushInterval?: Duration.Input | undefined } = {}
): Layer.Layer<never> => Layer.effect(DedupeStore, makeFile(path, options.capacity ?? 10_000, options.flushInterval ?? "1 second"))

const makeFile = (path: string, capacity: number, flushInterval: Duration.Input) =>
  Effect.gen(function*() {
    const stored = yield* Effect.promise(() => readFile(path, "utf8").then((text) => text.split("\n").filter((id) => id !== ""), () => []))
    let lines = stored.length
    let pending: Array<string> = []
    // One write at a time: a caller of `flushed` that finds one under way waits for it, then
    // writes whatever it did not hold.
    const writing = yield* Semaphore.make(1)

    const write = Effect.suspend(() => {
      if (pending.length === 0) return Effect.void
      const batch = pending
      pending = []
      lines += batch.length
      const append = lines > 2 * capacity
        ? Effect.promise(() => readFile(path, "utf8").catch(() => "")).pipe(
          Effect.flatMap((text) => {
            const newest = [...text.split("\n").filter((id) => id !== ""), ...batch].slice(-capacity)
            lines = newest.length
            // Written aside, then renamed: a crash mid-write never leaves half a file.
            return Effect.promise(() => writeFile(`${path}.tmp`, `${newest.join("\n")}\n`).then(() => rename(`${path}.tmp`, path)))
          })
        )
        : Effect.promise(() => appendFile(path, `${batch.join("\n")}\n`))
      return append.pipe(
        Effect.catchCause((cause) => Effect.logWarning(`Could not write the dedupe store ${path}; redeliveries after a restart may be answered twice`, cause))
      )
    })
    const flush = writing.withPermits(1)(write)

    const folder = yield* Effect.tryPromise(() => mkdir(dirname(path), { recursive: true })).pipe(Effect.result)
    if (folder._tag === "Failure") {
      yield* Effect.logWarning(`Could not create the folder of the dedupe store ${path}; answered ids are kept in memory only`)
      return memory
    }
    yield* Effect.forkScoped(Effect.schedule(flush, Schedule.spaced(flushInterval)))
    yield* Effect.addFinalizer(() => flush)

    return {
      load: Effect.succeed(stored.slice(-capacity)),
      remember: (id) =>
        Effect.sync(() => {
          pending.push(id)
        }),
      flushed: flush
    } satisfies DedupeStoreShape
  })

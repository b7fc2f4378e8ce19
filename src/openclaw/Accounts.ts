/**
 * The table of running accounts in this process: for each account id, a slot that one run holds
 * at a time, and the live account (its context) that `sendText` sends through.
 *
 * Gotchas: the table is process-wide on purpose, shared through `Symbol.for` rather than held by
 * this module. OpenClaw may load the plugin twice (from `plugins.load.paths` and the extensions
 * dir, each a module copy of its own), and may start an account again before its previous run has
 * closed. One table for all copies is what keeps one socket per account: a second run waits for
 * the slot until the first has closed.
 *
 * @since 0.1.0
 */
import { type Context, Effect, Option, Ref, Semaphore, type Scope } from "effect"
import type { Connector } from "../Connector.ts"

/** A running account: its context carries its connector and its logger (sink, level, scrubbing). */
export interface LiveAccount {
  readonly context: Context.Context<Connector>
}

interface Table {
  readonly slots: Ref.Ref<ReadonlyMap<string, Semaphore.Semaphore>>
  readonly live: Ref.Ref<ReadonlyMap<string, LiveAccount>>
}

const TABLE = Symbol.for("insta-claw-connector/accounts")

/** This process's table, made on first use (by whichever copy of the plugin comes first). */
const table = (): Table =>
  ((globalThis as Record<symbol, unknown>)[TABLE] ??= {
    slots: Ref.makeUnsafe<ReadonlyMap<string, Semaphore.Semaphore>>(new Map()),
    live: Ref.makeUnsafe<ReadonlyMap<string, LiveAccount>>(new Map())
  } satisfies Table) as Table

const slotOf = (accountId: string): Effect.Effect<Semaphore.Semaphore> =>
  Ref.modify(table().slots, (slots) => {
    const existing = slots.get(accountId)
    if (existing !== undefined) return [existing, slots]
    const slot = Semaphore.makeUnsafe(1)
    return [slot, new Map(slots).set(accountId, slot)]
  })

/**
 * Holds the account's slot for the scope. When another run holds it, calls `onWait` first, then
 * waits until that run has closed.
 */
export const claim = (accountId: string, onWait: Effect.Effect<void>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const slot = yield* slotOf(accountId)
    const free = yield* Effect.acquireRelease(slot.takeIfAvailable(1), (taken) => (taken ? slot.release(1) : Effect.void))
    if (free) return
    yield* onWait
    yield* slot.takeScoped(1)
  })

/** Makes the account reachable by `lookup` for the scope. */
export const register = (accountId: string, account: LiveAccount): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Ref.update(table().live, (live) => new Map(live).set(accountId, account)),
    () =>
      Ref.update(table().live, (live) => {
        if (live.get(accountId) !== account) return live
        const next = new Map(live)
        next.delete(accountId)
        return next
      })
  ).pipe(Effect.asVoid)

/** The running account with this id, if any. */
export const lookup = (accountId: string): Effect.Effect<Option.Option<LiveAccount>> =>
  Effect.map(Ref.get(table().live), (live) => Option.fromNullishOr(live.get(accountId)))

/**
 * The connector's background work — each lane, each answer — in one `FiberSet`, and the graceful
 * end: when the connector closes, stop taking messages, then give that work, and the replies still
 * waiting for the server to confirm them, `gracePeriod` to finish. Whatever is left is interrupted
 * when the set's scope closes.
 */
import { Effect, Exit, FiberSet, Scope } from "effect"

export interface Handlers {
  /** Runs `effect` in the background, as part of the work shutdown waits for. */
  readonly run: (effect: Effect.Effect<void>) => Effect.Effect<unknown>
  /**
   * Closes `intake` (no more messages), then waits up to `gracePeriod` ms for the work to finish
   * and for `replies` to be settled (`Replies.unsettled`, `idle`), saying so if there is any. Meant
   * for the connector's first finalizer.
   */
  readonly shutdown: (
    intake: Scope.Closeable,
    gracePeriod: number,
    replies: { readonly unsettled: () => number; readonly idle: Effect.Effect<void> }
  ) => Effect.Effect<void>
}

export const makeHandlers: Effect.Effect<Handlers, never, Scope.Scope> = Effect.gen(function*() {
  const handlers = yield* FiberSet.make<void, never>()
  return {
    run: (effect) => FiberSet.run(handlers, effect),
    shutdown: (intake, gracePeriod, replies) =>
      Effect.gen(function*() {
        yield* Scope.close(intake, Exit.void)
        const left = (yield* FiberSet.size(handlers)) + replies.unsettled()
        if (left === 0) return
        yield* Effect.logInfo(`Shutting down: waiting up to ${gracePeriod} ms for ${left} replies`)
        // The answers under way write their replies first; then every reply written is settled.
        yield* Effect.andThen(FiberSet.awaitEmpty(handlers), replies.idle).pipe(
          Effect.timeoutOrElse({
            duration: gracePeriod,
            orElse: () => Effect.logWarning("Shutdown grace period over; interrupting unfinished replies")
          })
        )
      })
  }
})

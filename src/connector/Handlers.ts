/**
 * The connector's background work — each lane, each answer, each reply's confirmation — in one
 * `FiberSet`, and the graceful end: when the connector closes, stop taking messages, then give
 * that work `gracePeriod` to finish. Whatever is left is interrupted when the set's scope closes.
 */
import { Effect, Exit, FiberSet, Scope } from "effect"

export interface Handlers {
  /** Runs `effect` in the background, as part of the work shutdown waits for. */
  readonly run: (effect: Effect.Effect<void>) => Effect.Effect<unknown>
  /**
   * Closes `intake` (no more messages), then waits up to `gracePeriod` ms for the work to finish,
   * saying so if there is any. Meant for the connector's first finalizer.
   */
  readonly shutdown: (intake: Scope.Closeable, gracePeriod: number) => Effect.Effect<void>
}

export const makeHandlers: Effect.Effect<Handlers, never, Scope.Scope> = Effect.gen(function*() {
  const handlers = yield* FiberSet.make<void, never>()
  return {
    run: (effect) => FiberSet.run(handlers, effect),
    shutdown: (intake, gracePeriod) =>
      Effect.gen(function*() {
        yield* Scope.close(intake, Exit.void)
        const left = yield* FiberSet.size(handlers)
        if (left === 0) return
        yield* Effect.logInfo(`Shutting down: waiting up to ${gracePeriod} ms for ${left} replies`)
        yield* FiberSet.awaitEmpty(handlers).pipe(
          Effect.timeoutOrElse({
            duration: gracePeriod,
            orElse: () => Effect.logWarning("Shutdown grace period over; interrupting unfinished replies")
          })
        )
      })
  }
})

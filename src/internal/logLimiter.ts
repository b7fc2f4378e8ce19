/**
 * Keeps a flood readable: a server sending 11 000 malformed frames must not produce 11 000 log
 * lines. Per kind of line, the first `burst` of each `interval` are logged in full; the rest are
 * counted, and one summary line per interval says how many of each kind were left out.
 *
 * Scoped: the summary fiber runs on Effect's `Schedule` (so `TestClock` drives it) and the last
 * counts are flushed when the scope closes.
 */
import { Duration, Effect, Schedule } from "effect"

export interface LogLimiter {
  /** Runs `line` (a log call) unless this interval already had `burst` lines of `kind`. */
  readonly log: (kind: string, line: Effect.Effect<void>) => Effect.Effect<void>
}

export const makeLogLimiter = Effect.fnUntraced(function*(options: {
  readonly burst: number
  readonly interval: Duration.Input
}) {
  const interval = Duration.fromInputUnsafe(options.interval)
  const counts = new Map<string, { logged: number; suppressed: number }>()

  const summarise = Effect.suspend(() => {
    const left = [...counts].filter(([, count]) => count.suppressed > 0)
    counts.clear()
    if (left.length === 0) return Effect.void
    const total = left.reduce((sum, [, count]) => sum + count.suppressed, 0)
    const kinds = left.map(([kind, count]) => `${kind} ×${count.suppressed}`).join(", ")
    return Effect.logWarning(`Left out ${total} repeated lines in the last ${Duration.format(interval)}: ${kinds}`)
  })
  yield* Effect.forkScoped(Effect.schedule(summarise, Schedule.spaced(interval)))
  yield* Effect.addFinalizer(() => summarise)

  return {
    log: (kind, line) =>
      Effect.suspend(() => {
        const count = counts.get(kind) ?? { logged: 0, suppressed: 0 }
        counts.set(kind, count)
        if (count.logged < options.burst) {
          count.logged++
          return line
        }
        count.suppressed++
        return Effect.void
      })
  } satisfies LogLimiter
})

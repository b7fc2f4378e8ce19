/**
 * The heartbeat of one link (docs/PROTOCOL.md §1): a ping every `interval`, and a watch on
 * silence. Any frame from the server — pong, data, or its own ping — counts as a sign of life
 * (`onFrame`). `timeout` completes once nothing has arrived for `threshold`, while pinging all
 * along; the link then destroys the socket. While the link is not reading (`hold`: whoever takes
 * its frames is still busy with the last ones), silence is the link's own and does not count.
 *
 * The shape of Effect's RPC pinger (`{ timeout, onFrame }`). All timing is Effect's `Clock`
 * and `Schedule`, so `TestClock` drives it.
 */
import { Clock, Effect, Schedule } from "effect"

export interface Heartbeat {
  /** Call for every frame received. */
  readonly onFrame: () => void
  /** The link stops reading for now (its frames' taker is busy): silence does not count. */
  readonly hold: () => void
  /** The link reads again: the silence is counted from now. */
  readonly release: () => void
  /** Pings every interval; completes after `threshold` of silence. */
  readonly timeout: Effect.Effect<void>
}

export const makeHeartbeat = Effect.fnUntraced(function*(options: {
  readonly interval: number
  readonly threshold: number
  readonly ping: () => void
}) {
  const clock = yield* Clock.Clock
  let lastSeen = clock.currentTimeMillisUnsafe()
  let held = false
  const pinging = Effect.schedule(Effect.sync(options.ping), Schedule.spaced(options.interval))
  const silence = Effect.gen(function*() {
    while (true) {
      if (held) {
        yield* Effect.sleep(options.threshold)
        continue
      }
      const silentFor = clock.currentTimeMillisUnsafe() - lastSeen
      if (silentFor >= options.threshold) return
      yield* Effect.sleep(options.threshold - silentFor)
    }
  })
  return {
    onFrame: () => {
      lastSeen = clock.currentTimeMillisUnsafe()
    },
    hold: () => {
      held = true
    },
    release: () => {
      held = false
      lastSeen = clock.currentTimeMillisUnsafe()
    },
    timeout: Effect.raceFirst(silence, Effect.andThen(pinging, Effect.never))
  } satisfies Heartbeat
})

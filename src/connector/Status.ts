/**
 * The connector's status as one `SubscriptionRef` (`Connector.status`, `statusChanges`; OpenClaw's
 * `ctx.setStatus` follows it). The connection's fields are copied in as they change (`update`);
 * the activity times, `lastInboundAt` and `lastOutboundAt`, move by whole seconds at most: a
 * status change per message would be two updates (and, in OpenClaw, two `setStatus` calls) for
 * every message under load.
 *
 * Generic over the status's shape, which `Connector.ts` declares (`ConnectorStatus`).
 */
import { Clock, Effect, type Stream, SubscriptionRef } from "effect"

/** What the status knows of the traffic: Unix ms of the last message in and of the last reply out. */
export interface Activity {
  readonly lastInboundAt: number | undefined
  readonly lastOutboundAt: number | undefined
}

/** `lastInboundAt` and `lastOutboundAt` are updated when they move by at least this much. */
export const ACTIVITY_RESOLUTION_MILLIS = 1000

export interface Status<S extends Activity> {
  /** The status now. */
  readonly get: Effect.Effect<S>
  /** The status now, then on every change. */
  readonly changes: Stream.Stream<S>
  /** Copies `patch` in as one change (the connection's fields, say). */
  readonly update: (patch: Partial<S>) => Effect.Effect<void>
  /** A message completed at `now` (Unix ms): `lastInboundAt` moves if it is a second older. */
  readonly markInbound: (now: number) => Effect.Effect<void>
  /** A reply starts going out, at the clock's now: `lastOutboundAt` moves if it is a second older. */
  readonly markOutbound: Effect.Effect<void>
}

export const makeStatus = <S extends Activity>(initial: S): Effect.Effect<Status<S>> =>
  Effect.gen(function*() {
    const status = yield* SubscriptionRef.make<S>(initial)
    const clock = yield* Clock.Clock
    /** When each activity time last moved: the throttle's memory, apart from what is shown. */
    const marked = { lastInboundAt: Number.NEGATIVE_INFINITY, lastOutboundAt: Number.NEGATIVE_INFINITY }
    const mark = (key: keyof Activity, now: number) => {
      if (now - marked[key] < ACTIVITY_RESOLUTION_MILLIS) return Effect.void
      marked[key] = now
      return SubscriptionRef.update(status, (current) => ({ ...current, [key]: now }))
    }
    return {
      get: SubscriptionRef.get(status),
      changes: SubscriptionRef.changes(status),
      update: (patch) => SubscriptionRef.update(status, (current) => ({ ...current, ...patch })),
      markInbound: (now) => mark("lastInboundAt", now),
      markOutbound: Effect.suspend(() => mark("lastOutboundAt", clock.currentTimeMillisUnsafe()))
    }
  })

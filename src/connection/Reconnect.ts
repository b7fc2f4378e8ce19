/**
 * The reconnect policy (docs/PROTOCOL.md §1), as a value: a `Schedule` over link failures.
 *
 * `defaultReconnect` is the protocol's formula — before attempt n (0 for the first retry after a
 * drop) wait `min(base · 2^n, cap) + uniform(0, jitter)`, and the capped delay after a refusal of
 * the credentials — built from `Schedule.exponential`, `modifyDelay` and `addDelay`. Pass your
 * own schedule as the `reconnect` option of `InstaClaw.layer` (or `Connection.ReconnectPolicy`).
 *
 * `resettingOnOpen` is the one custom part: Effect's schedules count every input since they
 * started and have no reset, but the backoff must start over once a link has opened. It steps
 * the policy and builds it afresh whenever a failure comes from a link that had opened.
 *
 * Gotchas: jitter comes from Effect's `Random`; seed it (`Random.withSeed`) for exact delays.
 */
import { Context, Duration, Effect, type Pull, Random, Schedule } from "effect"
import type { ConnectionErrorReason } from "../ConnectionError.ts"

/** What the schedule is told about each failure. */
export interface ReconnectInput {
  readonly reason: ConnectionErrorReason["_tag"]
  /** The link had opened before it failed. */
  readonly opened: boolean
  /** A refused upgrade's `Retry-After`, in milliseconds. */
  readonly retryAfterMillis?: number | undefined
}

/** One reconnect decision: which attempt (0-based since the last open) and the delay before it. */
export interface ReconnectStep {
  readonly attempt: number
  readonly delay: Duration.Duration
}

export interface BackoffOptions {
  readonly base?: Duration.Input | undefined
  readonly cap?: Duration.Input | undefined
  readonly jitter?: Duration.Input | undefined
}

/**
 * `min(base · 2^n, cap) + uniform(0, jitter)`; a refused credential waits `cap + jitter`; a
 * `Retry-After` (429/503) is honoured up to `cap`. Defaults 1 s, 30 s, 1 s.
 */
export const defaultReconnect = (options: BackoffOptions = {}): Schedule.Schedule<Duration.Duration, ReconnectInput> => {
  const cap = Duration.fromInputUnsafe(options.cap ?? "30 seconds")
  const jitter = Duration.toMillis(Duration.fromInputUnsafe(options.jitter ?? "1 second"))
  return Schedule.exponential(options.base ?? "1 second").pipe(
    Schedule.modifyDelay(({ duration, input }: Schedule.Metadata<Duration.Duration, ReconnectInput>) =>
      Effect.succeed(
        input.reason === "AuthenticationError"
          ? cap
          : Duration.min(Duration.max(duration, Duration.millis(input.retryAfterMillis ?? 0)), cap)
      )
    ),
    Schedule.addDelay(() => Effect.map(Random.nextIntBetween(0, jitter, { halfOpen: true }), Duration.millis))
  )
}

/** The policy a `Connection` uses. Override it with `Layer.succeed(ReconnectPolicy, schedule)`. */
export const ReconnectPolicy = Context.Reference<Schedule.Schedule<unknown, ReconnectInput>>("insta-claw/ReconnectPolicy", {
  defaultValue: () => defaultReconnect()
})

/**
 * Steps `policy` over failures, building it afresh after a failure of a link that had opened,
 * and stops after `maxAttempts` consecutive failed attempts (if given).
 */
export const resettingOnOpen = <E, R>(
  policy: Schedule.Schedule<unknown, ReconnectInput, E, R>,
  maxAttempts?: number | undefined
) => {
  const steps = Schedule.fromStep(
    Effect.gen(function*() {
      let step = yield* Schedule.toStep(policy)
      let attempt = 0
      return (now: number, input: ReconnectInput) =>
        Effect.gen(function*() {
          if (input.opened) {
            step = yield* Schedule.toStep(policy)
            attempt = 0
          }
          // The policy ending ends this schedule too; `Effect.retry` never reads its leftover.
          const [, delay] = yield* (step(now, input) as Pull.Pull<[unknown, Duration.Duration], E, ReconnectStep, R>)
          return [{ attempt: attempt++, delay }, delay] as [ReconnectStep, Duration.Duration]
        })
    })
  )
  return maxAttempts === undefined ? steps : Schedule.while(steps, ({ output }) => output.attempt < maxAttempts)
}

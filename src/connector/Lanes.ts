/**
 * When each completed message is answered. Replies in one conversation go out in the order the
 * messages came (a lane per conversation, drained by one fiber at a time); different
 * conversations are answered at once, at most `maxConcurrent` at a time. With the agent's own
 * ordering (`Agent.ordering: "agent"`) every message goes to it at once, within the same bound.
 *
 * At most `maxPending` messages wait for or are with the agent; past that, `enqueue` waits for
 * room — and with it the intake, which reads nothing meanwhile (TCP backpressure to the server).
 *
 * Gotchas: the link being read cannot end while `enqueue` waits (it ends once its frames are
 * handled), and the answers that would make room cannot write until a new link opens. So once
 * that link's socket has closed (`reading` false), `enqueue` stops waiting and takes the message
 * over the bound: at most the frames the link had read. While `enqueue` waits, the server is not
 * silent, the connector is. `waiting()` tells
 * the idle sweep to stand still, and the wait is handed to `onWaited` (the assembler adds it to
 * every response's last activity) — else a backlog longer than `responseIdleTimeout` discarded
 * the half-read messages behind it.
 */
import { Clock, Duration, Effect, Semaphore } from "effect"
import type { InboundMessage } from "../Protocol.ts"

/** How many completed messages may wait for the agent before inbound reading pauses. */
export const MAX_PENDING_MESSAGES = 1000

/** How often a waiting `enqueue` looks whether the link being read has closed. */
const READING_CHECK = Duration.millis(50)

export interface Lanes {
  /** Takes one message: waits for room among the pending ones, then queues it in its lane. */
  readonly enqueue: (message: InboundMessage) => Effect.Effect<void>
  /** True while `enqueue` waits for room. */
  readonly waiting: () => boolean
}

export const makeLanes = Effect.fnUntraced(function*(options: {
  /** Answers one message (`Reply.ts`). */
  readonly answer: (message: InboundMessage) => Effect.Effect<void>
  /** Runs a lane, or one answer, in the background (among the work shutdown waits for). */
  readonly run: (effect: Effect.Effect<void>) => Effect.Effect<unknown>
  readonly ordering: "connector" | "agent"
  readonly maxConcurrent: number
  readonly maxPending?: number | undefined
  /** `enqueue` waited this many milliseconds for room (more than none). */
  readonly onWaited: (millis: number) => void
  /** False once the socket of the link being read has closed (`Connection.reading`); absent, always true. */
  readonly reading?: (() => boolean) | undefined
}) {
  const { answer } = options
  const clock = yield* Clock.Clock
  const concurrency = yield* Semaphore.make(options.maxConcurrent)
  const pending = yield* Semaphore.make(options.maxPending ?? MAX_PENDING_MESSAGES)
  /** The messages waiting in each conversation with a running lane (its first is being answered). */
  const lanes = new Map<string, Array<InboundMessage>>()

  /** Messages taken over the bound (their link closed while they waited): they release no room. */
  const overBound = new Set<InboundMessage>()
  const release = (message: InboundMessage) => Effect.suspend(() => (overBound.delete(message) ? Effect.void : pending.release(1)))
  const reading = options.reading ?? (() => true)
  /** Succeeds once the link being read has closed (checked every `READING_CHECK`). */
  const closed: Effect.Effect<void> = Effect.gen(function*() {
    while (reading()) yield* Effect.sleep(READING_CHECK)
  })

  const drain = (conversationId: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const lane = lanes.get(conversationId)!
      const next = lane.shift()
      if (next === undefined) {
        lanes.delete(conversationId)
        return Effect.void
      }
      return answer(next).pipe(
        Effect.annotateLogs({ conversationId, responseId: next.responseId }),
        concurrency.withPermits(1),
        Effect.ensuring(release(next)),
        Effect.andThen(drain(conversationId))
      )
    })

  let waiting = false
  const enqueue = (message: InboundMessage): Effect.Effect<void> =>
    Effect.gen(function*() {
      const before = clock.currentTimeMillisUnsafe()
      waiting = true
      const permitted = yield* Effect.raceFirst(Effect.as(pending.take(1), true), Effect.as(closed, false)).pipe(
        Effect.ensuring(Effect.sync(() => {
          waiting = false
        }))
      )
      if (!permitted) overBound.add(message)
      const waited = clock.currentTimeMillisUnsafe() - before
      if (waited > 0) options.onWaited(waited)
      if (options.ordering === "agent") {
        // The agent orders each conversation itself: every message reaches it at once.
        return yield* options.run(answer(message).pipe(
          Effect.annotateLogs({ conversationId: message.conversationId, responseId: message.responseId }),
          concurrency.withPermits(1),
          Effect.ensuring(release(message))
        ))
      }
      const lane = lanes.get(message.conversationId)
      if (lane !== undefined) return lane.push(message)
      lanes.set(message.conversationId, [message])
      yield* options.run(drain(message.conversationId))
    })

  return { enqueue, waiting: () => waiting } satisfies Lanes
})

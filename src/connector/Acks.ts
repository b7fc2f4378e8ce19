/**
 * Acknowledgements of user messages (docs/PROTOCOL.md §7): the server keeps every message it has
 * not seen acknowledged and sends it again on the next link, so an ack says "taken: never send it
 * again". A message is acknowledged once its reply has provably reached the server and its id is
 * in the dedupe store (`DedupeStore.flushed`): after a crash, nothing acknowledged is lost, and a
 * message not yet acknowledged comes again and is answered again — only those in flight at the
 * crash.
 *
 * A redelivered message that was answered already, or that the connector ended without an answer
 * (the server failed it, it was too large, it was empty), is acknowledged again, unless its answer
 * is still under way: then its own ack follows that answer.
 *
 * Acks go out in batches, from one background fiber; whether a link takes them (it agreed on
 * `ack`) is the connection's business (`Connection.acknowledge`).
 */
import { Effect, Metric, Queue } from "effect"
import type { AckTarget } from "../Connection.ts"
import type { DedupeStoreShape } from "../DedupeStore.ts"
import * as Metrics from "../Metrics.ts"

export interface Acks {
  /** A message goes to the agent: a redelivery of it is not acknowledged until it is answered. */
  readonly taken: (responseId: string) => void
  /** Its reply reached the server (`delivered`), or could not be sent: acknowledged only if delivered. */
  readonly settled: (target: AckTarget, delivered: boolean) => Effect.Effect<void>
  /** A message the server sent again, already answered or ended here: acknowledged again. */
  readonly again: (target: AckTarget, answered: boolean) => Effect.Effect<void>
  /** Sends the acks, batch by batch; runs for the connector's scope. */
  readonly run: Effect.Effect<never>
  /**
   * Sends what is still queued, and the batch `run` was sending. For the connector's close, once
   * the last replies are settled and `run` is stopped, before the link closes: else a clean
   * restart would have every message of the last moments sent again (an ack twice is harmless).
   */
  readonly drain: Effect.Effect<void>
}

export const makeAcks = Effect.fnUntraced(function*(options: {
  readonly store: DedupeStoreShape
  /** Writes acks on the open link if it agreed on `ack`; how many went out (`Connection.acknowledge`). */
  readonly acknowledge: (targets: ReadonlyArray<AckTarget>, options?: { readonly waitForHello?: boolean }) => Effect.Effect<number>
}) {
  const { store } = options
  const queue = yield* Queue.unbounded<AckTarget>()
  /** Messages taken and not yet settled. Bounded by what the lanes hold. */
  const inProgress = new Set<string>()

  // Only what a restarted connector would find is acknowledged.
  const send = (batch: ReadonlyArray<AckTarget>, waitForHello: boolean) =>
    Effect.gen(function*() {
      yield* store.flushed
      const sent = yield* options.acknowledge(batch, { waitForHello })
      if (sent > 0) yield* Metric.update(Metrics.messagesAcknowledged, sent)
    })

  /** The batch `run` is sending: if the close stops it halfway, `drain` sends it (again). */
  let sending: ReadonlyArray<AckTarget> = []
  const run = Effect.forever(
    Effect.flatMap(Queue.takeAll(queue), (batch) => {
      sending = batch
      return Effect.andThen(send(batch, true), Effect.sync(() => (sending = [])))
    })
  )
  // On close, once `run` is stopped; a link still waiting for its server's hello is not waited for.
  const drain = Effect.flatMap(Queue.clear(queue), (queued) => {
    const batch = [...sending, ...queued]
    sending = []
    return batch.length === 0 ? Effect.void : send(batch, false)
  })

  /**
   * What an ack needs and nothing more. The caller's target is often the whole message (its text,
   * its media), and acks wait in the queue until the link's hello is settled — against a v1
   * server, which never answers, the first `connectTimeout` of every link: every message of those
   * seconds stayed in memory whole.
   */
  const ackOf = (target: AckTarget): AckTarget => ({ conversationId: target.conversationId, responseId: target.responseId })

  return {
    taken: (responseId) => {
      inProgress.add(responseId)
    },
    settled: (target, delivered) =>
      Effect.suspend(() => {
        inProgress.delete(target.responseId)
        if (!delivered) return Effect.void
        return Effect.andThen(store.remember(target.responseId), Effect.sync(() => Queue.offerUnsafe(queue, ackOf(target))))
      }),
    again: (target, answered) =>
      Effect.suspend(() => {
        if (inProgress.has(target.responseId)) return Effect.void
        Queue.offerUnsafe(queue, ackOf(target))
        return answered ? Metric.update(Metrics.messagesDeduplicated, 1) : Effect.void
      }),
    run,
    drain
  } satisfies Acks
})

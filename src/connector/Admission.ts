/**
 * What happens to a message before its response begins (docs/PROTOCOL.md §8.2): the agent's
 * `admit` decides whether it is answered at all, and a message that replies to one of the
 * connector's own replies is marked `replyToAgent`.
 *
 * Admission keeps each conversation's order: its messages are admitted one at a time, and the next
 * one only once the previous one's response has begun (its first frames are written) or it was
 * skipped. So an `admit` that takes a while (it reads a store, say) cannot let a later message's
 * reply start first — also with `ordering: "agent"`, where answers run at once. `inTurn` must be
 * entered in the order the messages came: `Lanes` starts answers in that order (it forks them in
 * order, and its semaphore serves waiters first come, first served).
 *
 * Gotchas: the memory of own replies lives as long as the connector: after a restart, a reply to
 * an earlier run's message is not recognised (it reaches the agent without `replyToAgent`).
 */
import { Deferred, Effect, Exit } from "effect"
import type { Admission, Agent, AgentRequest } from "../Agent.ts"
import { RecentSet } from "../internal/recent.ts"

/** How many of its own reply ids the connector remembers for `replyToAgent`. */
export const OWN_REPLIES_REMEMBERED = 10_000

const ANSWER: Exit.Exit<Admission> = Exit.succeed({ decision: "answer" })

export interface Admissions {
  /**
   * Runs `use` with the agent's decision on `request` (a defect in `admit` as the Exit's cause),
   * in the conversation's turn. `use` calls `begun` once the response has begun; the turn also
   * passes on when `use` ends, however it ends.
   */
  readonly inTurn: (
    request: AgentRequest,
    use: (decision: Exit.Exit<Admission>, begun: Effect.Effect<void>) => Effect.Effect<void>
  ) => Effect.Effect<void>
}

export const makeAdmissions = (admit: Agent["Service"]["admit"]): Admissions => {
  // No admit, nothing to order: every message is answered.
  if (admit === undefined) return { inTurn: (_, use) => use(ANSWER, Effect.void) }
  /** The latest turn of each conversation with one under way: done once its response has begun. */
  const latest = new Map<string, Deferred.Deferred<void>>()
  return {
    inTurn: (request, use) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          const { conversationId } = request
          const previous = latest.get(conversationId)
          const turn = Deferred.makeUnsafe<void>()
          latest.set(conversationId, turn)
          const begun = Effect.sync(() => {
            Deferred.doneUnsafe(turn, Exit.void)
            if (latest.get(conversationId) === turn) latest.delete(conversationId)
          })
          const decide = Effect.andThen(
            previous === undefined ? Effect.void : Deferred.await(previous),
            Effect.exit(Effect.suspend(() => admit(request)))
          )
          // Interrupted while it waits or decides, the turn passes on all the same.
          return restore(Effect.flatMap(decide, (decision) => use(decision, begun))).pipe(Effect.ensuring(begun))
        })
      )
  }
}

/** The response ids of the connector's last `capacity` replies. */
export interface OwnReplies {
  /** A reply with this response id began going out. */
  readonly sent: (responseId: string) => void
  /** The request, with `replyToAgent: true` when it replies to one of those replies. */
  readonly mark: (request: AgentRequest) => AgentRequest
}

/**
 * Ids are the connector's own `resp_<token>`, all of one length, so the count bounds the bytes.
 */
export const makeOwnReplies = (capacity = OWN_REPLIES_REMEMBERED): OwnReplies => {
  const ids = new RecentSet(capacity)
  return {
    sent: (responseId) => void ids.add(responseId),
    mark: (request) =>
      request.replyToId !== undefined && ids.has(request.replyToId) ? { ...request, replyToAgent: true } : request
  }
}

/**
 * What the connector says when an agent's reply fails or is stopped, handed to
 * `Protocol.writeReply` with each reply (`Reply.ts`): the end user's `{ code, message }` in
 * `response.failed`, the reason a stopped reply ends with `response.incomplete`, and the log line
 * said as it happens.
 *
 * Gotchas: an `AgentError`'s message is shown to the end user; it is scrubbed of the secrets
 * anyway. Anything else (a defect, an unknown error) gets the generic sentence: its text may
 * hold anything.
 */
import { Cause, Effect, Option } from "effect"
import { AgentError, AgentStopped } from "../Agent.ts"
import { scrub } from "../Logger.ts"
import { genericFailure, type ReplyFailure } from "../Protocol.ts"

export interface Failures {
  /** The reason of an `AgentStopped`: the reply then ends incomplete rather than failed. */
  readonly describeStop: (cause: Cause.Cause<unknown>) => string | undefined
  /** What the end user is told when the agent fails: its own safe message, or a generic one. */
  readonly describeFailure: (cause: Cause.Cause<unknown>) => ReplyFailure
  /** Said as it happens, before the reply's last frame goes out (and even if it cannot). */
  readonly onSourceFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void>
}

const describeStop = (cause: Cause.Cause<unknown>): string | undefined => {
  const error = Cause.findErrorOption(cause)
  return Option.isSome(error) && error.value instanceof AgentStopped ? error.value.reason : undefined
}

const onSourceFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  const stopped = describeStop(cause)
  if (stopped !== undefined) return Effect.logInfo(`The reply was stopped (${stopped}); sending response.incomplete`)
  return Effect.logError("The agent failed to answer; sending response.failed", cause)
}

/** The wording, with `secrets` never shown to the end user. */
export const makeFailures = (secrets: ReadonlyArray<string>): Failures => ({
  describeStop,
  onSourceFailure,
  describeFailure: (cause) => {
    const error = Cause.findErrorOption(cause)
    if (Option.isSome(error) && error.value instanceof AgentError) {
      return { code: error.value.code ?? "agent_error", message: scrub(error.value.message, secrets) }
    }
    return genericFailure
  }
})

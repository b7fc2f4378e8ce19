/**
 * The connector's side of the intake. Each envelope goes through the assembler synchronously, as
 * its frame arrives (`Connection.handleInbound`); an effect is made only for what the assembler
 * completes, refuses or drops — once per message, not once per event. A completed message goes
 * to `onMessage`; a violation is counted and logged at warn (a flood kept to a few lines and a
 * count, `FLOOD_LIMITS`); duplicates and ignored events at debug. `sweep` gives up responses
 * left unfinished for `responseIdleTimeout`.
 *
 * Gotchas: the handler's effect runs in the link's fiber, which has the link's context. It runs
 * in the connector's own (the one `makeInbound` was built in) instead, set whole rather than
 * merged: a merge copies every service.
 */
import { Clock, type Context, Duration, Effect, Metric } from "effect"
import { type AckTarget, FLOOD_LIMITS, type InboundHandler } from "../Connection.ts"
import { makeLogLimiter } from "../internal/logLimiter.ts"
import * as Metrics from "../Metrics.ts"
import type { AssemblerOutput, InboundAssembler, InboundMessage, MessageEnvelope, ViolationReason } from "../Protocol.ts"

export interface Inbound {
  /** The handler for `Connection.handleInbound`. */
  readonly consume: InboundHandler
  /** Gives up idle responses (each a violation); does nothing while `paused()`. */
  readonly sweep: Effect.Effect<void>
}

const COMPLETED = "response.completed"
const FAILED = "response.failed"
const INCOMPLETE = "response.incomplete"

/**
 * Responses the assembler ended for good without a message: sending them again (the same events,
 * §7) cannot change that, so they are acknowledged — IncompleteText too, its gap comes again.
 * (Evicted and idle ones are not: the assembler assembles their redelivery again.)
 */
const ENDED_WITHOUT_ANSWER: ReadonlySet<ViolationReason> = new Set(["ResponseFailed", "TextTooLarge", "EmptyMessage", "IncompleteText"])

/** How often `sweep` should run: a tenth of the idle timeout, at least every second. */
export const sweepInterval = (responseIdleTimeout: number): Duration.Duration =>
  Duration.millis(Math.max(1000, Math.floor(responseIdleTimeout / 10)))

export const makeInbound = Effect.fnUntraced(function*(options: {
  readonly assembler: Pick<InboundAssembler, "push" | "sweep">
  /** A completed message (it is new: the assembler drops redeliveries). */
  readonly onMessage: (message: InboundMessage) => Effect.Effect<void>
  /** True while nothing is being read because the connector is busy (`Lanes.waiting`). */
  readonly paused: () => boolean
  /**
   * A message that will not be answered here (again): `answered` when the server sent it again
   * after it was answered, false when it ended without an answer (`Acks.again`).
   */
  readonly settledBefore: (target: AckTarget, answered: boolean) => Effect.Effect<void>
}) {
  const { assembler, onMessage } = options
  const clock = yield* Clock.Clock
  const limiter = yield* makeLogLimiter(FLOOD_LIMITS)

  /** The end of a message that came again, or that ended without a message: its ack (§7). */
  const settled = (
    found: { readonly responseId?: string | undefined; readonly conversationId?: string | undefined },
    answered: boolean
  ): Effect.Effect<void> =>
    found.responseId === undefined || found.conversationId === undefined
      ? Effect.void
      : options.settledBefore({ responseId: found.responseId, conversationId: found.conversationId }, answered)

  const report = (output: AssemblerOutput): Effect.Effect<void> => {
    switch (output._tag) {
      case "Message":
        return onMessage(output.message)
      case "Violation": {
        const { violation } = output
        const ended = ENDED_WITHOUT_ANSWER.has(violation.reason)
          ? settled(violation, false)
          : violation.reason === "EventAfterCompletion" && violation.eventType === COMPLETED
          ? settled(violation, true)
          : Effect.void
        return Effect.andThen(
          Effect.andThen(ended, Metric.update(Metrics.protocolViolations, 1)),
          limiter.log(violation.reason, Effect.logWarning(`Protocol violation ${violation.reason}: ${violation.detail}`).pipe(
            Effect.annotateLogs({
              ...(violation.conversationId === undefined ? {} : { conversationId: violation.conversationId }),
              ...(violation.responseId === undefined ? {} : { responseId: violation.responseId }),
              ...(violation.eventType === undefined ? {} : { eventType: violation.eventType })
            })
          ))
        )
      }
      case "Duplicate":
        return Effect.logDebug(`Dropped a redelivered envelope ${output.messageId}`).pipe(
          Effect.andThen(Metric.update(Metrics.envelopesRedelivered, 1)),
          // The redelivered end of a message: acknowledged again (a failed one too, else the server
          // would send it on every link).
          Effect.andThen(
            output.eventType === COMPLETED
              ? settled(output, true)
              : output.eventType === FAILED || output.eventType === INCOMPLETE
              ? settled(output, false)
              : Effect.void
          )
        )
      case "Ignored":
        return Effect.logDebug(`Ignored event ${output.eventType}`)
    }
  }

  const context = yield* Effect.context<never>()
  const inConnector = (effect: Effect.Effect<void>) => Effect.updateContext(effect, (_: Context.Context<never>) => context)
  const consume = (envelope: MessageEnvelope): Effect.Effect<void> | undefined => {
    const outputs = assembler.push(envelope, clock.currentTimeMillisUnsafe())
    if (outputs.length === 0) return undefined
    return inConnector(outputs.length === 1 ? report(outputs[0]!) : Effect.forEach(outputs, report, { discard: true }))
  }

  const sweep = Effect.gen(function*() {
    if (options.paused()) return
    const now = yield* Clock.currentTimeMillis
    for (const output of assembler.sweep(now)) yield* report(output)
  })

  return { consume, sweep } satisfies Inbound
})

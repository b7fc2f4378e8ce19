/**
 * The connector program: Connection → inbound assembler → Agent → outbound encoder → Connection.
 *
 * - Each completed inbound message goes to the `Agent` once; its reply streams out as the agent
 *   produces it.
 * - Replies in one conversation go out in the order the messages came; different conversations
 *   are answered concurrently, at most `maxConcurrentConversations` at a time.
 * - An agent failure or defect becomes `response.failed` with a message safe to show; the
 *   connector lives on.
 * - Closing the layer's scope stops taking messages, gives in-flight replies
 *   `shutdownGracePeriod` to finish, then the Connection closes the socket with 1000.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  FiberSet,
  Layer,
  Metric,
  Option,
  Redacted,
  Schedule,
  Scope,
  Semaphore,
  Stream,
  SubscriptionRef
} from "effect"
import { Agent, AgentError, AgentStopped } from "./Agent.ts"
import { ConnectorConfig } from "./Config.ts"
import { Connection, type ConnectionError, FLOOD_LIMITS, type ConnectionErrorReason, type ConnectionState, type ConnectionStatus } from "./Connection.ts"
import { DedupeStore } from "./DedupeStore.ts"
import { makeLogLimiter } from "./internal/logLimiter.ts"
import * as Metrics from "./Metrics.ts"
import { type AssemblerOutput, type EmptyMessageError, genericFailure, type InboundMessage, type MessageEnvelope, type OutboundFrame, Protocol, type ReplyFailure, type ReplyOutcome } from "./Protocol.ts"
import { scrub } from "./Logger.ts"

/** What a status display needs; OpenClaw's `ctx.setStatus` gets this. */
export interface ConnectorStatus {
  readonly state: ConnectionState
  readonly reconnectAttempts: number
  /** The most recent link failure: its sentence, its kind, when. */
  readonly lastError: string | undefined
  readonly lastErrorKind: ConnectionErrorReason["_tag"] | undefined
  readonly lastErrorAt: number | undefined
  /** Unix ms of the next reconnect attempt, while one is scheduled. */
  readonly nextRetryAt: number | undefined
  readonly lastConnectedAt: number | undefined
  readonly lastDisconnectedAt: number | undefined
  /** Unix ms of the last completed inbound message (to the second: it moves by a second or more). */
  readonly lastInboundAt: number | undefined
  /** Unix ms when the last reply started going out (to the second, like `lastInboundAt`). */
  readonly lastOutboundAt: number | undefined
}

/** A reply sent with `Connector.send`. */
export interface SentReply {
  readonly conversationId: string
  readonly responseId: string
}

const fromConnection = (status: ConnectionStatus) => ({
  state: status.state,
  reconnectAttempts: status.reconnectAttempts,
  lastError: status.lastError?.message,
  lastErrorKind: status.lastError?._tag,
  lastErrorAt: status.lastErrorAt,
  nextRetryAt: status.nextRetryAt,
  lastConnectedAt: status.lastConnectedAt,
  lastDisconnectedAt: status.lastDisconnectedAt
})

/** `lastInboundAt` and `lastOutboundAt` are updated when they move by at least this much. */
const ACTIVITY_RESOLUTION_MILLIS = 1000

/** How many completed messages may wait for the agent before inbound reading pauses. */
const MAX_PENDING_MESSAGES = 1000

/** The `response.failed` error when the agent's reply had no text at all. */
export { emptyReplyFailure } from "./Protocol.ts"

export class Connector extends Context.Service<Connector, {
  /**
   * Sends `text` to a conversation as one streamed response (OpenClaw's `sendText`).
   * Fails with `Cannot send empty message` or `WebSocket is not connected`.
   */
  readonly send: (conversationId: string, text: string) => Effect.Effect<SentReply, EmptyMessageError | ConnectionError>
  readonly status: Effect.Effect<ConnectorStatus>
  /** The status now, then on every change. */
  readonly statusChanges: Stream.Stream<ConnectorStatus>
}>()("insta-claw/Connector") {
  /** Runs the program for the layer's scope. */
  static readonly layer: Layer.Layer<Connector, never, ConnectorConfig | Connection | Protocol | Agent> = Layer.effect(
    Connector,
    Effect.suspend(() => make)
  )
}

const make = Effect.gen(function*() {
  const config = yield* ConnectorConfig
  const connection = yield* Connection
  const protocol = yield* Protocol
  const agent = yield* Agent
  const assembler = yield* protocol.makeAssembler
  // Responses answered before a restart stay answered (`DedupeStore`, in memory by default).
  const store = yield* DedupeStore
  assembler.restore(yield* store.load)
  const secret = Redacted.value(config.clientSecret)

  const status = yield* SubscriptionRef.make<ConnectorStatus>({
    ...fromConnection(yield* connection.status),
    lastInboundAt: undefined,
    lastOutboundAt: undefined
  })
  const updateStatus = (f: (current: ConnectorStatus) => ConnectorStatus) => SubscriptionRef.update(status, f)
  // The activity times move in whole seconds: a status change per message would be two updates
  // (and, in OpenClaw, two `setStatus` calls) for every message under load.
  const marked = { lastInboundAt: Number.NEGATIVE_INFINITY, lastOutboundAt: Number.NEGATIVE_INFINITY }
  const mark = (key: keyof typeof marked, now: number) => {
    if (now - marked[key] < ACTIVITY_RESOLUTION_MILLIS) return Effect.void
    marked[key] = now
    return updateStatus((current) => ({ ...current, [key]: now }))
  }
  const clock = yield* Clock.Clock
  const markOutbound = Effect.suspend(() => mark("lastOutboundAt", clock.currentTimeMillisUnsafe()))

  /** The reason of an `AgentStopped`: the reply ends incomplete rather than failed. */
  const describeStop = (cause: Cause.Cause<unknown>): string | undefined => {
    const error = Cause.findErrorOption(cause)
    return Option.isSome(error) && error.value instanceof AgentStopped ? error.value.reason : undefined
  }

  /** Said as it happens, before the last frame goes out (and even if it cannot). */
  const onSourceFailure = (cause: Cause.Cause<unknown>) => {
    const stopped = describeStop(cause)
    if (stopped !== undefined) return Effect.logInfo(`The reply was stopped (${stopped}); sending response.incomplete`)
    return Effect.logError("The agent failed to answer; sending response.failed", cause)
  }

  /** What the end user is told when the agent fails: its own safe message, or a generic one. */
  const describeFailure = (cause: Cause.Cause<unknown>): ReplyFailure => {
    const error = Cause.findErrorOption(cause)
    if (Option.isSome(error) && error.value instanceof AgentError) {
      return { code: error.value.code ?? "agent_error", message: scrub(error.value.message, [secret]) }
    }
    return genericFailure
  }


  // A span per message, without a stack trace: `Effect.fn` captured an `Error` for the call site
  // of every message (Effect's RPC server makes the same choice for its span per request).
  const answer = Effect.fnUntraced(function*(message: InboundMessage) {
    yield* Metric.update(Metrics.messagesIn, 1)
    yield* Effect.logDebug(`Answering message ${message.messageId} (${message.text.length} characters)`)
    const pieces = agent.reply({
      conversationId: message.conversationId,
      senderId: message.senderId,
      senderName: message.senderName,
      text: message.text,
      systemPrompt: config.systemPrompt,
      messageId: message.messageId,
      responseId: message.responseId
    })
    // Each batch of frames goes to the connection as the encoder makes it: no stream in between.
    const response = yield* connection.beginResponse
    let first = true
    const write = (frames: ReadonlyArray<OutboundFrame>) => {
      if (!first) return response.write(frames)
      first = false
      return Effect.andThen(markOutbound, response.write(frames))
    }
    const sent = yield* Effect.result(
      protocol.writeReply({ conversationId: message.conversationId, describeFailure, describeStop, onSourceFailure }, pieces, write).pipe(
        Effect.onInterrupt(() => response.abandon)
      )
    )
    if (sent._tag === "Failure") {
      yield* response.abandon
      return yield* couldNotSend(sent.failure)
    }
    // Written: the conversation's next message may go to the agent. The pong that proves this
    // reply was read comes in the background; until it does, every new link gets the reply again
    // (before anything newer), so nobody waits for it — a reader held back by a full queue
    // cannot read that pong, and waiting here for it could stop both for good.
    yield* FiberSet.run(handlers, confirm(sent.success, response.finish))
  }, Effect.withSpan("Connector.answer", undefined, { captureStackTrace: false }))

  const couldNotSend = (error: ConnectionError) =>
    Effect.andThen(Metric.update(Metrics.repliesFailed, 1), Effect.logError(`Could not send the reply: ${error.message}`))

  /** The end of a reply once the server has provably read it: its count, and its warning. */
  const confirm = (outcome: ReplyOutcome, finish: Effect.Effect<void, ConnectionError>) =>
    Effect.gen(function*() {
      const confirmed = yield* Effect.result(finish)
      if (confirmed._tag === "Failure") return yield* couldNotSend(confirmed.failure)
      switch (outcome._tag) {
        case "Completed":
          return yield* Metric.update(Metrics.messagesOut, 1)
        case "Stopped":
          return
        case "Failed":
          return yield* Metric.update(Metrics.repliesFailed, 1)
        case "Empty":
          yield* Metric.update(Metrics.repliesFailed, 1)
          return yield* Effect.logWarning("The agent returned an empty reply; sent response.failed")
      }
    })

  // Per-conversation lanes keep replies in order; the semaphore bounds conversations at once.
  const handlers = yield* FiberSet.make<void, never>()
  const concurrency = yield* Semaphore.make(config.maxConcurrentConversations)
  const pending = yield* Semaphore.make(MAX_PENDING_MESSAGES)
  const lanes = new Map<string, Array<InboundMessage>>()

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
        Effect.ensuring(pending.release(1)),
        Effect.andThen(drain(conversationId))
      )
    })

  // While the intake waits for room, nothing is read: the server is not silent, the connector
  // is. The idle sweep stands still meanwhile, and the wait is added to every response's last
  // activity afterwards — else a backlog longer than `responseIdleTimeout` discarded the
  // half-read messages behind it.
  let waiting = false
  const enqueue = (message: InboundMessage) =>
    Effect.gen(function*() {
      const before = clock.currentTimeMillisUnsafe()
      waiting = true
      yield* pending.take(1).pipe(Effect.ensuring(Effect.sync(() => {
        waiting = false
      })))
      const waited = clock.currentTimeMillisUnsafe() - before
      if (waited > 0) assembler.pauseIdle(waited)
      if (agent.ordering === "agent") {
        // The agent orders each conversation itself: every message reaches it at once.
        return yield* FiberSet.run(handlers, answer(message).pipe(
          Effect.annotateLogs({ conversationId: message.conversationId, responseId: message.responseId }),
          concurrency.withPermits(1),
          Effect.ensuring(pending.release(1))
        ))
      }
      const lane = lanes.get(message.conversationId)
      if (lane !== undefined) return lane.push(message)
      lanes.set(message.conversationId, [message])
      yield* FiberSet.run(handlers, drain(message.conversationId))
    })

  const limiter = yield* makeLogLimiter(FLOOD_LIMITS)
  const report = (output: AssemblerOutput) => {
    switch (output._tag) {
      case "Message":
        return mark("lastInboundAt", output.message.receivedAt).pipe(
          Effect.andThen(store.remember(output.message.responseId)),
          Effect.andThen(enqueue(output.message))
        )
      case "Violation": {
        const { violation } = output
        return Effect.andThen(
          Metric.update(Metrics.protocolViolations, 1),
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
        return Effect.logDebug(`Dropped a redelivered envelope ${output.messageId}`)
      case "Ignored":
        return Effect.logDebug(`Ignored event ${output.eventType}`)
    }
  }

  // Each envelope goes through the assembler synchronously, as its frame arrives, in the link
  // that read it; an effect runs only for what it completes, refuses or drops — once per
  // message, not once per event. The effect runs in the connector's own context (the link's
  // fiber has the link's), set whole rather than merged: a merge copies every service.
  const context = yield* Effect.context<never>()
  const inConnector = (effect: Effect.Effect<void>) => Effect.updateContext(effect, (_: Context.Context<never>) => context)
  const consume = (envelope: MessageEnvelope): Effect.Effect<void> | undefined => {
    const outputs = assembler.push(envelope, clock.currentTimeMillisUnsafe())
    if (outputs.length === 0) return undefined
    return inConnector(outputs.length === 1 ? report(outputs[0]!) : Effect.forEach(outputs, report, { discard: true }))
  }

  const sweepEvery = Duration.millis(Math.max(1000, Math.floor(config.responseIdleTimeout / 10)))
  const sweep = Effect.gen(function*() {
    if (waiting) return
    const now = yield* Clock.currentTimeMillis
    for (const output of assembler.sweep(now)) yield* report(output)
  })

  // Every change of the connection — each failure and scheduled attempt, not only state
  // transitions — reaches the status.
  const followConnection = Stream.runForEach(connection.statusChanges, (next) =>
    updateStatus((current) => ({ ...current, ...fromConnection(next) })))

  yield* Effect.forkScoped(followConnection)
  yield* Effect.forkScoped(Effect.schedule(sweep, Schedule.spaced(sweepEvery)))
  // Stops taking messages when closed (the finalizer below runs first).
  const intake = yield* Scope.fork(yield* Effect.scope, "sequential")
  yield* Scope.provide(connection.handleInbound(consume), intake)

  // Runs first on close: stop taking messages, then let replies finish within the grace period.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      yield* Scope.close(intake, Exit.void)
      const left = yield* FiberSet.size(handlers)
      if (left === 0) return
      yield* Effect.logInfo(`Shutting down: waiting up to ${config.shutdownGracePeriod} ms for ${left} replies`)
      yield* FiberSet.awaitEmpty(handlers).pipe(
        Effect.timeoutOrElse({
          duration: config.shutdownGracePeriod,
          orElse: () => Effect.logWarning("Shutdown grace period over; interrupting unfinished replies")
        })
      )
    })
  )

  const send = Effect.fnUntraced(function*(conversationId: string, text: string) {
    const frames = yield* Stream.runCollect(protocol.streamReply({ conversationId }, text))
    const response = yield* connection.beginResponse
    yield* markOutbound
    yield* Effect.andThen(response.write(frames), response.finish).pipe(Effect.onExit(() => response.abandon))
    const responseId = frames[0]?.responseId ?? ""
    yield* Effect.logDebug(`Sent ${responseId} to ${conversationId} (${text.length} characters)`)
    return { conversationId, responseId }
  })

  return Connector.of({
    send,
    status: SubscriptionRef.get(status),
    statusChanges: SubscriptionRef.changes(status)
  })
})

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
 * This file is the service and its composition; each job is a unit of its own under
 * `connector/`: `Inbound.ts` (envelopes through the assembler, violations logged),
 * `Lanes.ts` (order per conversation, the concurrency and pending bounds), `Reply.ts`
 * (answering one message, `send`, and the metrics of confirmed replies), `Failures.ts` (what a
 * failed or stopped reply says), `Status.ts` (the status and its activity throttle),
 * `Handlers.ts` (background work and the graceful shutdown).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Redacted, Schedule, Scope, Stream } from "effect"
import { Agent } from "./Agent.ts"
import { ConnectorConfig } from "./Config.ts"
import { Connection, type ConnectionError, type ConnectionErrorReason, type ConnectionState, type ConnectionStatus } from "./Connection.ts"
import { makeAcks } from "./connector/Acks.ts"
import { makeFailures } from "./connector/Failures.ts"
import { makeHandlers } from "./connector/Handlers.ts"
import { makeInbound, sweepInterval } from "./connector/Inbound.ts"
import { makeLanes } from "./connector/Lanes.ts"
import { makeMedia } from "./connector/Media.ts"
import { makeReplies } from "./connector/Reply.ts"
import { makeStatus } from "./connector/Status.ts"
import { DedupeStore } from "./DedupeStore.ts"
import type { ReplyMedia } from "./Media.ts"
import { type EmptyMessageError, Protocol } from "./Protocol.ts"

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
  /** What the open link agreed on with the server (docs/PROTOCOL.md §6): 1 and none for a v1 server. */
  readonly protocol: number
  readonly features: ReadonlyArray<string>
}

/** A reply sent with `Connector.send`. */
export interface SentReply {
  readonly conversationId: string
  readonly responseId: string
}

/** The connection's part of the status: its error as a sentence and a kind. */
const fromConnection = (status: ConnectionStatus) => ({
  state: status.state,
  reconnectAttempts: status.reconnectAttempts,
  lastError: status.lastError?.message,
  lastErrorKind: status.lastError?._tag,
  lastErrorAt: status.lastErrorAt,
  nextRetryAt: status.nextRetryAt,
  lastConnectedAt: status.lastConnectedAt,
  lastDisconnectedAt: status.lastDisconnectedAt,
  protocol: status.protocol,
  features: status.features
})

/** The `response.failed` error when the agent's reply had no text at all. */
export { emptyReplyFailure } from "./Protocol.ts"

export class Connector extends Context.Service<Connector, {
  /**
   * Sends `text`, and `media` after it (§8.1), to a conversation as one streamed response
   * (OpenClaw's `sendText` and `sendMedia`). Fails with `Cannot send empty message` (blank text and
   * no media) or `WebSocket is not connected`.
   */
  readonly send: (conversationId: string, text: string, media?: ReadonlyArray<ReplyMedia>) => Effect.Effect<SentReply, EmptyMessageError | ConnectionError>
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

  const status = yield* makeStatus<ConnectorStatus>({
    ...fromConnection(yield* connection.status),
    lastInboundAt: undefined,
    lastOutboundAt: undefined
  })
  const handlers = yield* makeHandlers
  // Acks (protocol v2) go out once a message's reply reached the server and its id is stored.
  const acks = yield* makeAcks({ store, acknowledge: connection.acknowledge })
  // On close, after the replies (the finalizer below runs first) and after `run` is stopped
  // (finalizers run in reverse), before the link closes.
  yield* Effect.addFinalizer(() => acks.drain)
  yield* Effect.forkScoped(acks.run)
  const replies = yield* makeReplies({
    agent,
    systemPrompt: config.systemPrompt,
    protocol,
    beginResponse: connection.beginResponse,
    beginAnswer: connection.beginAnswer,
    failures: makeFailures([Redacted.value(config.clientSecret)]),
    markOutbound: status.markOutbound,
    settled: (message, delivered) => acks.settled(message, delivered),
    // Media inline within the server's frame limit, else uploaded where its hello says (§8.1).
    media: makeMedia({ clientId: config.clientId, clientSecret: config.clientSecret, link: connection.status })
  })
  yield* Effect.forkScoped(replies.settling)
  const lanes = yield* makeLanes({
    answer: replies.answer,
    run: handlers.run,
    ordering: agent.ordering ?? "connector",
    maxConcurrent: config.maxConcurrentConversations,
    onWaited: (millis) => assembler.pauseIdle(millis),
    reading: connection.reading
  })
  const inbound = yield* makeInbound({
    assembler,
    onMessage: (message) => {
      acks.taken(message.responseId)
      return Effect.andThen(status.markInbound(message.receivedAt), lanes.enqueue(message))
    },
    paused: lanes.waiting,
    settledBefore: acks.again
  })

  // Every change of the connection — each failure and scheduled attempt, not only state
  // transitions — reaches the status.
  yield* Effect.forkScoped(Stream.runForEach(connection.statusChanges, (next) => status.update(fromConnection(next))))
  yield* Effect.forkScoped(Effect.schedule(inbound.sweep, Schedule.spaced(sweepInterval(config.responseIdleTimeout))))
  // Stops taking messages when closed (the finalizer below runs first).
  const intake = yield* Scope.fork(yield* Effect.scope, "sequential")
  yield* Scope.provide(connection.handleInbound(inbound.consume), intake)
  // Runs first on close: stop taking messages, then let replies finish within the grace period.
  yield* Effect.addFinalizer(() => handlers.shutdown(intake, config.shutdownGracePeriod, replies))

  return Connector.of({
    send: replies.send,
    status: status.get,
    statusChanges: status.changes
  })
})

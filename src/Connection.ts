/**
 * The one authenticated WebSocket to the InstaClaw service (docs/PROTOCOL.md §1 and §5).
 *
 * For the layer's scope, `Connection` dials, authenticates with `x-app-key`/`x-app-secret`,
 * keeps each link alive with a heartbeat, and reconnects by its `ReconnectPolicy` — forever
 * unless `maxReconnectAttempts` says otherwise.
 *
 * Inbound: each frame is taken synchronously at the socket's edge, in its own message event
 * (`connection/Intake.ts`), decoded here, and its `"message"` envelope handed to the handler set
 * with `handleInbound` (the connector's path: an effect only when the handler returns one, and
 * then the frames behind it wait, with TCP backpressure past a mark); without a handler,
 * envelopes go to the `inbound` stream. Outbound: a response's frames go out batch by batch
 * (`beginResponse`, or `sendResponse` for a stream) and are re-sent from their first frame on the
 * next link if a drop cuts them off before the server provably read them.
 *
 * Where each part lives: `connection/Link.ts` (one link's life), `connection/Intake.ts` (frames
 * as they arrive), `connection/Writes.ts` (one link's writes), `connection/Heartbeat.ts`
 * (liveness), `connection/Pings.ts` (delivery confirmation), `connection/Responses.ts` (replies
 * awaiting it, re-sent on a new link), `connection/Reconnect.ts` (the policy),
 * `WebSocketDialer.ts` (the sockets, injected), `ConnectionError.ts` (why links end).
 * All timing goes through Effect (`Schedule`, `Effect.sleep`): `TestClock` drives it.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Layer,
  Metric,
  Option,
  Queue,
  Ref,
  Result,
  Schedule,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import { ConnectorConfig } from "./Config.ts"
import { ConnectionError, type ConnectionErrorReason, notConnected, ReconnectAttemptsExhausted } from "./ConnectionError.ts"
import type { Frame } from "./connection/Intake.ts"
import { dialOptions } from "./connection/Dial.ts"
import { type Link, serveLink } from "./connection/Link.ts"
import { type AckTarget, makeHandshake, V1 } from "./connection/Handshake.ts"
import { type ConnectionState, type ConnectionStatus, initialStatus } from "./connection/Status.ts"
import { makeResponses, type ResponseWriter } from "./connection/Responses.ts"
import { makeLogLimiter } from "./internal/logLimiter.ts"
import { type ReconnectInput, ReconnectPolicy, type ReconnectStep, resettingOnOpen } from "./connection/Reconnect.ts"
import * as Metrics from "./Metrics.ts"
import { randomToken } from "./Protocol.ts"
import type { OutboundFrame } from "./ReplyEncoder.ts"
import { WebSocketDialer } from "./WebSocketDialer.ts"
import * as Wire from "./Wire.ts"

export * from "./ConnectionError.ts"
export { type BackoffOptions, defaultReconnect, ReconnectPolicy, type ReconnectInput, type ReconnectStep } from "./connection/Reconnect.ts"
export { type AckTarget, type Agreement, CLIENT_FEATURES } from "./connection/Handshake.ts"
export { type ConnectionState, type ConnectionStatus } from "./connection/Status.ts"
export { probe } from "./connection/Dial.ts"
export { type ResponseWriter } from "./connection/Responses.ts"
export { type DialOptions, type TextFrame, WebSocketDialer, type WebSocketHandle } from "./WebSocketDialer.ts"

/**
 * Takes one inbound envelope synchronously (`Connection.handleInbound`): `undefined` when that
 * is all, or an effect the link runs before the next envelope.
 */
export type InboundHandler = (envelope: Wire.MessageEnvelope) => Effect.Effect<void> | undefined

export class Connection extends Context.Service<Connection, {
  /** The status now. */
  readonly status: Effect.Effect<ConnectionStatus>
  /** The status now, then every change: each failure, each scheduled attempt, each open. */
  readonly statusChanges: Stream.Stream<ConnectionStatus>
  /** The state now. */
  readonly state: Effect.Effect<ConnectionState>
  /** The current state, then every change. */
  readonly stateChanges: Stream.Stream<ConnectionState>
  /** Consecutive failed attempts since the last open. */
  readonly reconnectAttempts: Effect.Effect<number>
  /** Why the most recent link failed, if one did. */
  readonly lastError: Effect.Effect<Option.Option<ConnectionErrorReason>>
  /**
   * Decoded inbound `"message"` envelopes, in arrival order. Meant for one consumer.
   * Malformed frames never appear here: they are logged and skipped.
   */
  readonly inbound: Stream.Stream<Wire.MessageEnvelope>
  /**
   * `inbound` without the queue: for the scope, each envelope goes to `handle` synchronously, as
   * its frame arrives. `handle` returns `undefined` when there is nothing more to do, or an
   * effect, which the link runs before it hands over the next envelope (so an effect that waits
   * holds the link back). One handler at a time; `inbound` gets nothing meanwhile. The
   * connector's own path: Effect is entered once per completed message, not once per event.
   */
  readonly handleInbound: (handle: InboundHandler) => Effect.Effect<void, never, Scope.Scope>
  /**
   * False once the socket being read has closed. Its link ends only once the handler's effect is
   * done: a handler that waits (for room) must stop then, or it waits for the link it holds open.
   */
  readonly reading: () => boolean
  /**
   * Writes the frames of one response in order, as they come, and returns once the server has
   * provably read them all (a pong after the last frame). Waits up to `sendTimeout` for a
   * connection, then fails with `NotConnected` ("WebSocket is not connected"). If the link drops
   * before that proof, the response is re-sent from its first frame on the next link (same ids).
   */
  readonly sendResponse: <E, R>(
    frames: Stream.Stream<OutboundFrame, E, R>
  ) => Effect.Effect<void, E | ConnectionError, R>
  /**
   * `sendResponse` for frames that are ready piece by piece rather than as a stream: the writer's
   * `write` sends each batch as it comes (same waiting, same re-send after a drop), and `finish`
   * returns once the server has provably read them all.
   */
  readonly beginResponse: Effect.Effect<ResponseWriter>
  /**
   * `beginResponse` for the answer to a user message: it waits for a link as long as it takes
   * (the connector's close bounds it), so an answer is never given up while its message may come
   * again (§7).
   */
  readonly beginAnswer: Effect.Effect<ResponseWriter>
  /**
   * Acknowledges user messages to the server (§7) on the open link, if it agreed on `ack`;
   * succeeds with how many acks went out (none on a v1 link or with no link). Never fails. A link
   * whose server has not said hello yet is given up to `connectTimeout` for it, unless
   * `waitForHello` is false.
   */
  readonly acknowledge: (targets: ReadonlyArray<AckTarget>, options?: { readonly waitForHello?: boolean }) => Effect.Effect<number>
  /** Fails when reconnecting has given up (`maxReconnectAttempts`); otherwise never returns. */
  readonly awaitFatal: Effect.Effect<never, ConnectionError>
}>()("insta-claw/Connection") {
  /** Needs `ConnectorConfig` and a `WebSocketDialer`. */
  static readonly layerNoDeps: Layer.Layer<Connection, never, ConnectorConfig | WebSocketDialer> = Layer.effect(
    Connection,
    Effect.suspend(() => make)
  )

  /** With the `ws` dialer. */
  static readonly layer: Layer.Layer<Connection, never, ConnectorConfig> = Connection.layerNoDeps.pipe(
    Layer.provide(WebSocketDialer.layer)
  )
}

/** Repeated lines of one kind: this many in full per interval, then a count. */
export const FLOOD_LIMITS = { burst: 5, interval: "10 seconds" } as const

const make = Effect.gen(function*() {
  const config = yield* ConnectorConfig
  const dialer = yield* WebSocketDialer
  const policy = yield* ReconnectPolicy
  const scope = yield* Effect.scope

  const status = yield* SubscriptionRef.make<ConnectionStatus>(initialStatus)
  const updateStatus = (patch: Partial<ConnectionStatus>) => SubscriptionRef.update(status, (current) => ({ ...current, ...patch }))
  /** Fails once reconnecting has given up: the one outcome `awaitFatal` waits for. */
  const fatal = yield* Deferred.make<never, ConnectionError>()
  const inbound = yield* Queue.bounded<Wire.MessageEnvelope>(1024)
  let handler: InboundHandler | undefined
  /** The open link, if any: set when a link opens, cleared when it ends. */
  const currentLink = yield* SubscriptionRef.make(Option.none<Link>())
  /** The open link now, read synchronously (on every write: no effect for it). */
  const linkNow = () => Option.getOrUndefined(SubscriptionRef.getUnsafe(currentLink))
  /** Dials made so far; each link's generation is its dial's number. */
  const dials = yield* Ref.make(0)
  const handshake = makeHandshake({ token: yield* randomToken })
  const clock = yield* Clock.Clock

  const setState = (next: ConnectionState, patch: Partial<ConnectionStatus> = {}) =>
    Effect.gen(function*() {
      const previous = (yield* SubscriptionRef.get(status)).state
      yield* updateStatus({ ...patch, state: next })
      if (previous !== next) yield* Effect.logDebug(`Connection state ${previous} -> ${next}`)
    })


  // A hostile server's flood of bad frames stays a few lines and a count (`internal/logLimiter.ts`).
  const limiter = yield* makeLogLimiter(FLOOD_LIMITS)
  /**
   * One frame, decoded here, synchronously, as it arrives (`connection/Intake.ts`): an envelope
   * goes to the handler, which returns an effect only when there is something to do; a frame
   * that is skipped or ignored costs an effect of its own (its log line).
   */
  const receive = (frame: Frame): Effect.Effect<void> | undefined => {
    if (typeof frame !== "string") {
      return limiter.log(
        "BinaryFrame",
        Effect.logError(`Skipped a binary frame of ${frame.byteLength} bytes: the protocol allows text frames only`)
      )
    }
    const decoded = Wire.decodeFrame(frame)
    if (Result.isFailure(decoded)) return limiter.log("MalformedFrame", Effect.logError(`Skipped a frame: ${decoded.failure.message}`))
    const envelope = decoded.success
    if (Wire.isMessageEnvelope(envelope)) return handler === undefined ? Effect.asVoid(Queue.offer(inbound, envelope)) : handler(envelope)
    if (Wire.isHelloEnvelope(envelope)) return serverHello(envelope.data)
    return Effect.logDebug(`Ignored an envelope of type ${JSON.stringify(envelope.type)}`)
  }

  /** The server's hello on the open link: from now on the link uses what both hellos list. */
  const serverHello = (hello: Wire.HelloData) =>
    Effect.gen(function*() {
      const link = Option.getOrUndefined(yield* SubscriptionRef.get(currentLink))
      if (link === undefined) return
      const agreement = handshake.onServerHello(link.generation, hello)
      yield* updateStatus(agreement)
      yield* Effect.logDebug(`Protocol ${agreement.protocol} agreed with the server: features ${agreement.features.join(", ") || "none"}`)
    })

  /** Dials and serves one link until it fails. */
  const nextLink = Effect.gen(function*() {
    const generation = yield* Ref.updateAndGet(dials, (n) => n + 1)
    yield* setState(generation === 1 ? "connecting" : "reconnecting", { nextRetryAt: undefined })
    return yield* serveLink({
      dial: () => dialer.dial(config.url, dialOptions(config)),
      generation,
      connectTimeout: config.connectTimeout,
      heartbeatInterval: config.heartbeatInterval,
      timeoutThreshold: config.timeoutThreshold,
      onOpen: (link) =>
        Effect.gen(function*() {
          // The first frame of every link: the client's hello (v1 until the server answers).
          yield* updateStatus(V1)
          yield* Effect.ignore(link.writeAll([handshake.hello(yield* Clock.currentTimeMillis)]))
          // Before anyone else writes on it: what the last link may have lost, in order.
          yield* takeOver(link, SubscriptionRef.set(currentLink, Option.some(link)))
          yield* setState("connected", { reconnectAttempts: 0, lastConnectedAt: yield* Clock.currentTimeMillis })
          yield* Effect.logInfo("Connection established")
        }),
      onClose: SubscriptionRef.set(currentLink, Option.none()),
      onFrame: receive
    }).pipe(Effect.scoped)
  })

  const onFailure = (failure: ConnectionError) =>
    Effect.gen(function*() {
      const { reason } = failure
      if (reason._tag === "HeartbeatTimeout") yield* Metric.update(Metrics.heartbeatTimeouts, 1)
      if (reason._tag === "AuthenticationError") yield* Effect.logError(reason.message)
      // "Lost" only for a link that was open.
      else yield* Effect.logWarning(`${failure.opened ? "Connection lost" : "Could not connect"}: ${reason.message}`)
      if ("cause" in reason && reason.cause !== undefined) yield* Effect.logDebug("The failure's cause:", Cause.die(reason.cause))
      const now = yield* Clock.currentTimeMillis
      yield* setState("reconnecting", { lastError: reason, lastErrorAt: now, ...(failure.opened ? { lastDisconnectedAt: now } : {}) })
    })

  const logAttempt = ({ output }: { readonly output: ReconnectStep }) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* updateStatus({ reconnectAttempts: output.attempt + 1, nextRetryAt: now + Duration.toMillis(output.delay) })
      yield* Metric.update(Metrics.reconnects, 1)
      yield* Effect.logWarning(
        `Reconnecting: attempt ${output.attempt + 1} in ${Math.round(Duration.toMillis(output.delay))} ms`
      )
    })

  const giveUp = Effect.gen(function*() {
    const last = (yield* SubscriptionRef.get(status)).lastError?.message ?? "none"
    const error = new ReconnectAttemptsExhausted({ attempts: config.maxReconnectAttempts ?? 0, lastError: last })
    yield* Effect.logError(error.message)
    yield* Deferred.fail(fatal, new ConnectionError({ reason: error, opened: false }))
  })

  const supervise = nextLink.pipe(
    Effect.tapError(onFailure),
    // Gotchas: `Effect.retry` hands each failure to the next attempt as schedule metadata in
    // its context. A link's context is captured by its socket, and a failure's stack frames
    // hold that context — fed whole errors, every failure kept the previous one (and its
    // socket) alive forever; the 1000-cycle leak test found it. The schedule gets a summary.
    Effect.mapError((failure): ReconnectInput => ({
      reason: failure.reason._tag,
      opened: failure.opened,
      ...(failure.reason._tag === "OpenFailed" && failure.reason.retryAfterMillis !== undefined
        ? { retryAfterMillis: failure.reason.retryAfterMillis }
        : {})
    })),
    Effect.retry(resettingOnOpen(policy, config.maxReconnectAttempts).pipe(Schedule.tap(logAttempt))),
    Effect.catch(() => giveUp),
    Effect.ensuring(setState("disconnected", { nextRetryAt: undefined }))
  )
  yield* Effect.forkIn(supervise, scope)

  /** The open link, or the next one to open (`changes` starts with the current value). */
  const nextOpenLink: Effect.Effect<Link, ConnectionError> = SubscriptionRef.changes(currentLink).pipe(
    Stream.filter(Option.isSome),
    Stream.runHead,
    // `changes` never ends, so the head is always there; the type says it may not be.
    Effect.flatMap((opened) => Option.isSome(opened) ? Effect.succeed(opened.value.value) : Effect.fail(notConnected()))
  )
  const withinSendTimeout = nextOpenLink.pipe(
    Effect.timeoutOrElse({ duration: config.sendTimeout, orElse: () => Effect.fail(notConnected()) })
  )

  const { beginAnswer, beginResponse, takeOver } = makeResponses({
    current: linkNow,
    awaitLink: (patient) => (patient ? nextOpenLink : withinSendTimeout)
  })

  /** Waits for `link`'s server hello, up to `connectTimeout`; a link without one is v1. */
  const awaitHello = (link: Link) =>
    // Every hello and every link's end changes the status.
    SubscriptionRef.changes(status).pipe(
      Stream.filter(() => linkNow() !== link || handshake.decided(link.generation)),
      Stream.runHead,
      Effect.timeoutOption(config.connectTimeout),
      Effect.andThen(Effect.sync(() => handshake.takeForV1(link.generation)))
    )

  const sendResponse = <E, R>(frames: Stream.Stream<OutboundFrame, E, R>) =>
    Effect.flatMap(beginResponse, (response) =>
      Effect.andThen(Stream.runForEachArray(frames, (batch) => response.write(batch)), response.finish).pipe(
        Effect.onExit(() => response.abandon)
      ))

  return Connection.of({
    status: SubscriptionRef.get(status),
    statusChanges: SubscriptionRef.changes(status),
    state: Effect.map(SubscriptionRef.get(status), (s) => s.state),
    stateChanges: Stream.changes(Stream.map(SubscriptionRef.changes(status), (s) => s.state)),
    reconnectAttempts: Effect.map(SubscriptionRef.get(status), (s) => s.reconnectAttempts),
    lastError: Effect.map(SubscriptionRef.get(status), (s) => Option.fromUndefinedOr(s.lastError)),
    inbound: Stream.fromQueue(inbound),
    reading: () => linkNow()?.isOpen() ?? false,
    handleInbound: (handle) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          handler = handle
        }),
        () =>
          Effect.sync(() => {
            if (handler === handle) handler = undefined
          })
      ),
    beginResponse,
    beginAnswer,
    sendResponse,
    acknowledge: (targets, options) =>
      Effect.gen(function*() {
        const link = linkNow()
        if (link === undefined) return 0
        // The server's hello may still wait behind frames being handled (pongs do not wait):
        // give it a moment before the link counts as v1 (unless told not to wait, as on close).
        if (!handshake.decided(link.generation) && options?.waitForHello !== false) yield* awaitHello(link)
        return yield* handshake.acknowledge(link, targets, clock.currentTimeMillisUnsafe())
      }),
    awaitFatal: Deferred.await(fatal)
  })
})

/**
 * The one authenticated WebSocket to the InstaClaw service (docs/PROTOCOL.md §1 and §5).
 *
 * For the layer's scope, `Connection` dials, authenticates with `x-app-key`/`x-app-secret`,
 * pings every `heartbeatInterval`, drops a link silent for `timeoutThreshold`, and reconnects
 * with exponential backoff and jitter — forever unless `maxReconnectAttempts` says otherwise.
 * Inbound frames come out decoded as a stream; outbound responses go in as streams of frames and
 * are re-sent from their first event if a drop cuts them off.
 *
 * Built on `effect/socket` (`Socket.fromWebSocket`) over a `ws` instance the injected
 * `WebSocketDialer` creates, so ping/pong and `terminate` are reachable and unit tests can dial a
 * fake. All timing goes through Effect (`Schedule`, `Effect.sleep`): `TestClock` drives it.
 *
 * @since 0.1.0
 */
import {
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Latch,
  Layer,
  Metric,
  Option,
  Queue,
  Random,
  Redacted,
  Ref,
  Result,
  Schedule,
  Schema,
  Scope,
  Stream,
  SubscriptionRef
} from "effect"
import { Socket } from "effect/socket"
import WebSocket from "ws"
import { ConnectorConfig } from "./Config.ts"
import * as Metrics from "./Metrics.ts"
import * as Protocol from "./Protocol.ts"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** The server refused the credentials (HTTP 401/403 on upgrade, or close 1008/4001/4401/4403). */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", {
  status: Schema.optionalKey(Schema.Number),
  closeCode: Schema.optionalKey(Schema.Number),
  opened: Schema.Boolean
}) {
  override get message() {
    const how = this.status !== undefined ? `HTTP ${this.status} on upgrade` : `close code ${this.closeCode}`
    return `InstaClaw rejected the credentials (${how}): check clientId/clientSecret`
  }
}

/** Why a link ended or could not be used. */
export const ConnectionErrorReason = Schema.Literals([
  "OpenTimeout",
  "OpenFailed",
  "Closed",
  "HeartbeatTimeout",
  "FrameTooLarge",
  "NotConnected",
  "ReconnectAttemptsExhausted"
])
export type ConnectionErrorReason = typeof ConnectionErrorReason.Type

export class ConnectionError extends Schema.TaggedError<ConnectionError>()("ConnectionError", {
  reason: ConnectionErrorReason,
  message: Schema.String,
  closeCode: Schema.optionalKey(Schema.Number),
  /** The link had opened before it failed: the reconnect backoff starts over. */
  opened: Schema.Boolean
}) {}

/** What ends one link. */
export type LinkFailure = AuthenticationError | ConnectionError

/** What the reconnect schedule needs to know about a failure. */
export interface FailureSummary {
  readonly _tag: LinkFailure["_tag"]
  /** The link had opened before it failed. */
  readonly opened: boolean
}

const AUTH_CLOSE_CODES: ReadonlySet<number> = new Set([1008, 4001, 4401, 4403])

// ---------------------------------------------------------------------------------------------
// The dialer: the outside world, injected.
// ---------------------------------------------------------------------------------------------

/** The slice of a `ws` WebSocket the connection uses. A fake implements it in unit tests. */
export interface WebSocketHandle extends Socket.WebSocketLike {
  /** Sends a text frame; `done` runs once it is written to the OS (or failed). */
  readonly sendText: (data: string, done: (error?: Error) => void) => void
  readonly ping: () => void
  /** Destroys the socket without a closing handshake. */
  readonly terminate: () => void
  /** Registers a listener for control frames: a pong, or the server's own ping. */
  readonly onControlFrame: (listener: (kind: "ping" | "pong") => void) => void
  /** The HTTP status of a refused upgrade, once one was seen. */
  readonly upgradeStatus: () => number | undefined
  /** The close code, once the socket closed. */
  readonly closeCode: () => number | undefined
}

export interface DialOptions {
  readonly headers: Readonly<Record<string, string>>
  readonly maxPayload: number
}

/** Creates WebSockets. `WebSocketDialer.layer` uses the `ws` library. */
export class WebSocketDialer extends Context.Service<WebSocketDialer, {
  readonly dial: (url: string, options: DialOptions) => WebSocketHandle
}>()("insta-claw/WebSocketDialer") {
  static readonly layer = Layer.succeed(WebSocketDialer, { dial: (url, options) => dialWs(url, options) })
}

/** Wraps a `ws` client socket as a `WebSocketHandle`. Tests may pass a subclass of `WebSocket`. */
export const dialWs = (
  url: string,
  options: DialOptions,
  WebSocketClass: new(url: string, options: WebSocket.ClientOptions) => WebSocket = WebSocket
): WebSocketHandle => {
  // No permessage-deflate: frames are small JSON events, and compression would cost CPU per
  // frame and hold writes in a queue of its own.
  const ws = new WebSocketClass(url, { headers: { ...options.headers }, maxPayload: options.maxPayload, perMessageDeflate: false })
  let status: number | undefined
  let closeCode: number | undefined
  // A refused upgrade: keep the status for `AuthenticationError`, then abort the handshake.
  ws.on("unexpected-response", (_request, response) => {
    status = response.statusCode
    ws.terminate()
  })
  // Errors reach the reader through its own listener. This one notes a frame over `maxPayload`:
  // ws reports it as an error before its close frame (1009) is even written.
  ws.on("error", (error: Error & { readonly code?: string }) => {
    if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") closeCode = 1009
  })
  ws.on("close", (code) => {
    closeCode = code
  })
  return {
    get readyState() {
      return ws.readyState
    },
    addEventListener: (type, listener, opts) => ws.addEventListener(type, listener as never, opts as never),
    removeEventListener: (type, listener) => ws.removeEventListener(type, listener as never),
    close: (code, reason) => ws.close(code, reason),
    send: (data) => ws.send(data),
    sendText: (data, done) => ws.send(data, (error) => done(error ?? undefined)),
    ping: () => {
      if (ws.readyState === WebSocket.OPEN) ws.ping()
    },
    terminate: () => ws.terminate(),
    onControlFrame: (listener) => {
      ws.on("pong", () => listener("pong"))
      ws.on("ping", () => listener("ping"))
    },
    upgradeStatus: () => status,
    closeCode: () => closeCode
  }
}

// ---------------------------------------------------------------------------------------------
// Reconnect policy
// ---------------------------------------------------------------------------------------------

export interface ReconnectPolicy {
  readonly base: Duration.Input
  readonly cap: Duration.Input
  readonly jitter: Duration.Input
  /** Consecutive failed attempts after which the schedule stops; undefined = never. */
  readonly maxAttempts?: number | undefined
}

/** One reconnect decision: which attempt (0-based since the last open) and the delay before it. */
export interface ReconnectStep {
  readonly attempt: number
  readonly delay: Duration.Duration
}

/**
 * The reconnect schedule over link failures (docs/PROTOCOL.md §1): delay before attempt n is
 * `min(base · 2^n, cap) + uniform(0, jitter)`. The attempt counter starts over whenever the
 * failure it is fed came from a link that had opened. Authentication failures wait the capped
 * delay (credentials may be fixed server-side, no point hammering).
 *
 * Gotchas: jitter comes from Effect's `Random`; seed it (`Random.withSeed`) for exact delays.
 */
export const reconnectSchedule = (policy: ReconnectPolicy): Schedule.Schedule<ReconnectStep, FailureSummary> => {
  const base = Duration.toMillis(Duration.fromInputUnsafe(policy.base))
  const cap = Duration.toMillis(Duration.fromInputUnsafe(policy.cap))
  const jitter = Duration.toMillis(Duration.fromInputUnsafe(policy.jitter))
  const steps = Schedule.fromStep(
    Effect.sync(() => {
      let attempt = 0
      return (_now: number, failure: FailureSummary) => {
        if (failure.opened) attempt = 0
        const n = attempt++
        const backoff = failure._tag === "AuthenticationError" ? cap : Math.min(base * 2 ** n, cap)
        return Effect.map(Random.nextIntBetween(0, jitter, { halfOpen: true }), (extra): [ReconnectStep, Duration.Duration] => {
          const delay = Duration.millis(backoff + extra)
          return [{ attempt: n, delay }, delay]
        })
      }
    })
  )
  const max = policy.maxAttempts
  return max === undefined ? steps : steps.pipe(Schedule.while(({ output }) => output.attempt < max))
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting"

/** An open link: one dialed socket and its generation number. */
interface Link {
  readonly generation: number
  /** Writes frames in order; succeeds once the last is handed to the OS, fails if the link broke. */
  readonly writeAll: (jsons: ReadonlyArray<string>) => Effect.Effect<void, ConnectionError>
  /**
   * Proves the server has read everything written so far: pings, and waits for the pong.
   * (TCP keeps order, so the pong to a ping sent after the frames comes after the server read them.)
   */
  readonly confirm: Effect.Effect<void, ConnectionError>
  /** Destroys the socket (a write failed on it) and waits until the link has ended. */
  readonly drop: Effect.Effect<void>
}

export class Connection extends Context.Service<Connection, {
  /** The state now. */
  readonly state: Effect.Effect<ConnectionState>
  /** The current state, then every change. */
  readonly stateChanges: Stream.Stream<ConnectionState>
  /** Consecutive failed attempts since the last open. */
  readonly reconnectAttempts: Effect.Effect<number>
  /** The most recent link failure, if any. */
  readonly lastError: Effect.Effect<Option.Option<LinkFailure>>
  /**
   * Decoded inbound `"message"` envelopes, in arrival order. Meant for one consumer.
   * Malformed frames never appear here: they are logged and skipped.
   */
  readonly inbound: Stream.Stream<Protocol.MessageEnvelope>
  /**
   * Writes the frames of one response in order, as they come, and returns once the server has
   * provably read them all (a pong after the last frame). Waits up to `sendTimeout` for a
   * connection, then fails with `WebSocket is not connected`. If the link drops before that
   * proof, the response is re-sent from its first frame on the next link (same ids).
   */
  readonly sendResponse: <E, R>(
    frames: Stream.Stream<Protocol.OutboundFrame, E, R>
  ) => Effect.Effect<void, E | ConnectionError, R>
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

/** How long a clean close may take before the socket is destroyed. */
const CLOSE_GRACE = Duration.seconds(2)

const ignore = () => {}

const notConnected = (opened = false) =>
  new ConnectionError({ reason: "NotConnected", message: "WebSocket is not connected", opened })

const make = Effect.gen(function*() {
  const config = yield* ConnectorConfig
  const dialer = yield* WebSocketDialer
  const clock = yield* Clock.Clock
  const scope = yield* Effect.scope

  const state = yield* SubscriptionRef.make<ConnectionState>("disconnected")
  const attempts = yield* Ref.make(0)
  const lastError = yield* Ref.make(Option.none<LinkFailure>())
  const fatal = yield* Latch.make(false)
  const fatalError = yield* Ref.make<ConnectionError>(notConnected())
  const inbound = yield* Queue.bounded<Protocol.MessageEnvelope>(1024)
  const connected = yield* Latch.make(false)
  let currentLink: Link | undefined
  let generation = 0

  const setState = (next: ConnectionState) =>
    Effect.gen(function*() {
      const previous = yield* SubscriptionRef.get(state)
      if (previous === next) return
      yield* SubscriptionRef.set(state, next)
      yield* Effect.logDebug(`Connection state ${previous} -> ${next}`)
    })

  const headers = {
    "x-app-key": config.clientId,
    "x-app-secret": Redacted.value(config.clientSecret)
  }

  /** Dials and serves one link until it fails. Always fails with the reason it ended. */
  const runLink = Effect.fnUntraced(function*(first: boolean) {
    yield* setState(first ? "connecting" : "reconnecting")
    const linkScope = yield* Effect.scope
    const handle = yield* Effect.acquireRelease(
      Effect.sync(() => dialer.dial(config.url, { headers, maxPayload: config.maxFrameBytes })),
      (handle) => closeGracefully(handle)
    )
    const socket = yield* Socket.fromWebSocket(Effect.succeed(handle), { openTimeout: config.connectTimeout })
    const reader = yield* Effect.mapError(socket.reader, (error) => classify(error, handle, false))
    let silenceExceeded = false

    // Open.
    const thisGeneration = ++generation
    let lastSeen = clock.currentTimeMillisUnsafe()
    // Pongs come back in the order pings went out: pong number k answers ping number k.
    let pingsSent = 0
    let pongsReceived = 0
    const pongWaiters = new Map<number, (result: Effect.Effect<void, ConnectionError>) => void>()
    const ping = () => {
      pingsSent++
      handle.ping()
    }
    handle.onControlFrame((kind) => {
      lastSeen = clock.currentTimeMillisUnsafe()
      if (kind !== "pong") return
      pongsReceived++
      pongWaiters.get(pongsReceived)?.(Effect.void)
      pongWaiters.delete(pongsReceived)
    })
    const confirm = Effect.callback<void, ConnectionError>((resume) => {
      if (handle.readyState !== WebSocket.OPEN) return resume(Effect.fail(notConnected(true)))
      const number = pingsSent + 1
      pongWaiters.set(number, resume)
      ping()
      return Effect.sync(() => pongWaiters.delete(number))
    })
    // Writes still waiting for their callback. ws does not always call them back when the
    // peer kills the socket (the soak found it), so the link fails them itself when it ends.
    const pendingWrites = new Set<(result: Effect.Effect<void, ConnectionError>) => void>()
    const writeAll = (jsons: ReadonlyArray<string>) =>
      Effect.callback<void, ConnectionError>((resume) => {
        if (handle.readyState !== WebSocket.OPEN || jsons.length === 0) {
          return resume(jsons.length === 0 ? Effect.void : Effect.fail(notConnected(true)))
        }
        const finish = (result: Effect.Effect<void, ConnectionError>) => {
          if (pendingWrites.delete(finish)) resume(result)
        }
        pendingWrites.add(finish)
        // ws calls back in order: waiting for the last callback waits for all of them, and
        // keeps the socket's buffer bounded.
        const last = jsons.length - 1
        jsons.forEach((json, i) =>
          handle.sendText(json, i < last ? ignore : (error) => finish(error === undefined ? Effect.void : Effect.fail(notConnected(true))))
        )
        return Effect.sync(() => pendingWrites.delete(finish))
      })
    const ended = yield* Deferred.make<void>()
    const drop = Effect.andThen(Effect.sync(() => handle.terminate()), Deferred.await(ended))
    currentLink = { generation: thisGeneration, writeAll, confirm, drop }
    yield* Ref.set(attempts, 0)
    yield* setState("connected")
    yield* connected.open
    yield* Scope.addFinalizer(linkScope, Effect.suspend(() => {
      if (currentLink?.generation === thisGeneration) currentLink = undefined
      for (const finish of [...pendingWrites]) finish(Effect.fail(notConnected(true)))
      for (const resume of pongWaiters.values()) resume(Effect.fail(notConnected(true)))
      pongWaiters.clear()
      return Effect.andThen(connected.close, Deferred.succeed(ended, undefined))
    }))
    yield* Effect.logInfo("Connection established")

    const heartbeat = Effect.schedule(Effect.sync(ping), Schedule.spaced(config.heartbeatInterval))
    const watchdog = Effect.gen(function*() {
      while (true) {
        const silentFor = clock.currentTimeMillisUnsafe() - lastSeen
        if (silentFor >= config.timeoutThreshold) break
        yield* Effect.sleep(config.timeoutThreshold - silentFor)
      }
      // No closing handshake with a silent peer: destroy the socket, which ends `read` below.
      silenceExceeded = true
      handle.terminate()
    })
    const heartbeatTimeout = new ConnectionError({
      reason: "HeartbeatTimeout",
      message: `No frame from the server for ${config.timeoutThreshold} ms; dropping the link`,
      opened: true
    })
    const read = Effect.gen(function*() {
      while (true) {
        const frames = yield* Effect.mapError(reader.pull, (error) => silenceExceeded ? heartbeatTimeout : classify(error, handle, true))
        lastSeen = clock.currentTimeMillisUnsafe()
        for (const frame of frames) yield* receive(frame)
      }
    })
    yield* Effect.forkScoped(heartbeat)
    yield* Effect.forkScoped(watchdog)
    return yield* read
  }, Effect.scoped)

  const receive = (frame: string | Uint8Array) =>
    Effect.gen(function*() {
      if (typeof frame !== "string") {
        return yield* Effect.logError(`Skipped a binary frame of ${frame.byteLength} bytes: the protocol allows text frames only`)
      }
      const decoded = Protocol.decodeFrame(frame)
      if (Result.isFailure(decoded)) return yield* Effect.logError(`Skipped a frame: ${decoded.failure.message}`)
      const envelope = decoded.success
      if (!Protocol.isMessageEnvelope(envelope)) {
        return yield* Effect.logDebug(`Ignored an envelope of type ${JSON.stringify(envelope.type)}`)
      }
      yield* Queue.offer(inbound, envelope)
    })

  const onFailure = (failure: LinkFailure) =>
    Effect.gen(function*() {
      yield* Ref.set(lastError, Option.some(failure))
      yield* setState("reconnecting")
      if (failure._tag === "ConnectionError" && failure.reason === "HeartbeatTimeout") yield* Metric.update(Metrics.heartbeatTimeouts, 1)
      if (failure._tag === "AuthenticationError") yield* Effect.logError(failure.message)
      else yield* Effect.logWarning(`Connection lost: ${failure.message}`)
    })

  const logAttempt = ({ output }: { readonly output: ReconnectStep }) =>
    Effect.gen(function*() {
      yield* Ref.set(attempts, output.attempt + 1)
      yield* Metric.update(Metrics.reconnects, 1)
      yield* Effect.logWarning(
        `Reconnecting: attempt ${output.attempt + 1} in ${Math.round(Duration.toMillis(output.delay))} ms`
      )
    })

  let first = true
  const supervise = Effect.suspend(() => {
    const isFirst = first
    first = false
    return runLink(isFirst)
  }).pipe(
    Effect.tapError(onFailure),
    // Gotchas: `Effect.retry` hands each failure to the next attempt as schedule metadata in
    // its context. A link's context is captured by its socket, and a failure's stack frames
    // hold that context — fed whole errors, every failure kept the previous one (and its
    // socket) alive forever; the 1000-cycle leak test found it. The schedule gets a summary.
    Effect.mapError((failure): FailureSummary => ({ _tag: failure._tag, opened: failure.opened })),
    Effect.retry(
      reconnectSchedule({ base: "1 second", cap: "30 seconds", jitter: "1 second", maxAttempts: config.maxReconnectAttempts }).pipe(
        Schedule.tap(logAttempt)
      )
    ),
    Effect.catch(() =>
      Effect.gen(function*() {
        const last = Option.match(yield* Ref.get(lastError), { onNone: () => "none", onSome: (error) => error.message })
        const error = new ConnectionError({
          reason: "ReconnectAttemptsExhausted",
          message: `Gave up after ${config.maxReconnectAttempts} reconnect attempts; last error: ${last}`,
          opened: false
        })
        yield* Effect.logError(error.message)
        yield* Ref.set(fatalError, error)
        yield* fatal.open
      })
    ),
    Effect.ensuring(setState("disconnected"))
  )
  yield* Effect.forkIn(supervise, scope)

  const awaitLink = Effect.gen(function*() {
    while (true) {
      yield* connected.await
      if (currentLink !== undefined) return currentLink
      yield* Effect.yieldNow
    }
  }).pipe(
    Effect.timeoutOrElse({ duration: config.sendTimeout, orElse: () => Effect.fail(notConnected()) })
  )

  const sendResponse = <E, R>(frames: Stream.Stream<Protocol.OutboundFrame, E, R>) =>
    Effect.gen(function*() {
      /** Every frame of this response written so far, for a re-send after a drop. */
      const sent: Array<string> = []
      let writtenOn = -1
      /** Writes `batch` (after re-sending everything on a new link); with `confirm`, also waits for proof of receipt. */
      const deliver = (batch: ReadonlyArray<string>, confirm: boolean) =>
        Effect.gen(function*() {
          while (true) {
            const link = currentLink !== undefined && connected.isOpen() ? currentLink : yield* awaitLink
            const resend = link.generation !== writtenOn && sent.length > 0
            if (resend) yield* Effect.logDebug(`Re-sending ${sent.length} frames of a response cut off by a drop`)
            const delivered = yield* link.writeAll(resend ? [...sent, ...batch] : batch).pipe(
              Effect.andThen(confirm ? link.confirm : Effect.void),
              Effect.as(true),
              Effect.catchTag("ConnectionError", () => Effect.succeed(false))
            )
            if (delivered) {
              writtenOn = link.generation
              for (const json of batch) sent.push(json)
              return
            }
            // The link broke under us: let it end, then re-send from the start on the next one.
            yield* link.drop
          }
        })
      yield* Stream.runForEachArray(frames, (chunk) => deliver(chunk.map((frame) => frame.json), false))
      // The last frames may have died with the link after leaving this machine: only a pong
      // after them proves the server read them. Until then the response can still be re-sent.
      if (sent.length > 0) yield* deliver([], true)
    })

  return Connection.of({
    state: SubscriptionRef.get(state),
    stateChanges: SubscriptionRef.changes(state),
    reconnectAttempts: Ref.get(attempts),
    lastError: Ref.get(lastError),
    inbound: Stream.fromQueue(inbound),
    sendResponse,
    awaitFatal: Effect.flatMap(fatal.await, () => Effect.flatMap(Ref.get(fatalError), Effect.fail))
  })
})

/** Maps a socket failure to why the link ended. */
const classify = (error: Socket.SocketError, handle: WebSocketHandle, opened: boolean): LinkFailure => {
  const status = handle.upgradeStatus()
  if (status === 401 || status === 403) return new AuthenticationError({ status, opened })
  const reason = error.reason
  const code = reason._tag === "SocketCloseError" ? reason.code : handle.closeCode()
  if (code !== undefined && AUTH_CLOSE_CODES.has(code)) return new AuthenticationError({ closeCode: code, opened })
  if (code === 1009) {
    return new ConnectionError({ reason: "FrameTooLarge", message: "A frame exceeded maxFrameBytes; closed with 1009", closeCode: 1009, opened })
  }
  if (reason._tag === "SocketOpenError") {
    return reason.kind === "Timeout"
      ? new ConnectionError({ reason: "OpenTimeout", message: "The upgrade did not complete within connectTimeout", opened })
      : new ConnectionError({
        reason: "OpenFailed",
        message: status === undefined ? "Could not open the WebSocket" : `Upgrade refused with HTTP ${status}`,
        opened
      })
  }
  return new ConnectionError({
    reason: "Closed",
    message: code === undefined ? "The socket closed" : `The socket closed with code ${code}`,
    ...(code === undefined ? {} : { closeCode: code }),
    opened
  })
}

/** Closes with 1000 and waits briefly for the server's close frame, then destroys the socket. */
const closeGracefully = (handle: WebSocketHandle): Effect.Effect<void> => {
  if (handle.readyState === WebSocket.CLOSED) return Effect.void
  if (handle.readyState !== WebSocket.OPEN) return Effect.sync(() => handle.terminate())
  return Effect.callback<void>((resume) => {
    const onClose = () => resume(Effect.void)
    handle.addEventListener("close", onClose, { once: true })
    handle.close(1000, "closing")
    return Effect.sync(() => handle.removeEventListener("close", onClose))
  }).pipe(
    Effect.timeoutOrElse({ duration: CLOSE_GRACE, orElse: () => Effect.sync(() => handle.terminate()) })
  )
}

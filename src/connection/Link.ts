/**
 * One link's life: dial, open, serve, end. `serveLink` dials one socket, hands the open `Link`
 * to its caller, runs the heartbeat and reads frames until the link ends — and always fails,
 * with the `ConnectionError` that says why. Reconnecting is the caller's business
 * (`src/Connection.ts`).
 *
 * Built on `effect/socket` (`Socket.fromWebSocket`) over the dialed handle, so ping/pong and
 * `terminate` stay reachable. Everything the link attaches belongs to its scope.
 */
import { Deferred, Duration, Effect, Scope } from "effect"
import { Socket } from "effect/socket"
import WebSocket from "ws"
import {
  AuthenticationError,
  Closed,
  ConnectionError,
  type ConnectionErrorReason,
  FrameTooLarge,
  HeartbeatTimeout,
  OpenFailed,
  OpenTimeout
} from "../ConnectionError.ts"
import type { TextFrame, WebSocketHandle } from "../WebSocketHandle.ts"
import { type Heartbeat, makeHeartbeat } from "./Heartbeat.ts"
import { type Frame, type FrameHandler, makeIntake } from "./Intake.ts"
import { makePings } from "./Pings.ts"
import { makeWrites } from "./Writes.ts"

/** An open link, as the sender sees it. */
export interface Link {
  /** Counts links opened by this connection: a sender knows whether it wrote on this one. */
  readonly generation: number
  /**
   * Writes frames in order; succeeds once ws has them (or, with over 1 MiB unwritten, once the OS
   * has them), fails if the link is not open. Only `confirm` proves the server read them.
   */
  readonly writeAll: (frames: ReadonlyArray<TextFrame>) => Effect.Effect<void, ConnectionError>
  /**
   * `writeAll` without an effect, for the common case: true once ws has the frames; false, with
   * nothing written, when the link is not open or they would pass the 1 MiB mark (then use
   * `writeAll`, which waits).
   */
  readonly tryWriteAll: (frames: ReadonlyArray<TextFrame>) => boolean
  /** Proves the server has read everything written so far (a pong to a fresh ping). */
  readonly confirm: Effect.Effect<void, ConnectionError>
  /** True while the socket is open; false from the moment it closed, before the link has ended. */
  readonly isOpen: () => boolean
  /** `confirm` as a callback: `done(true)` on that pong, `done(false)` if the link ends first (`Pings.ts`). */
  readonly confirmThen: (done: (confirmed: boolean) => void) => void
  /** Destroys the socket (a write failed on it) and waits until the link has ended. */
  readonly drop: Effect.Effect<void>
}

export interface LinkOptions {
  readonly dial: () => WebSocketHandle
  readonly generation: number
  readonly connectTimeout: number
  readonly heartbeatInterval: number
  readonly timeoutThreshold: number
  /** The link is open: publish it. */
  readonly onOpen: (link: Link) => Effect.Effect<void>
  /** The link has ended (runs in its finalizer, before pending writes learn of it). */
  readonly onClose: Effect.Effect<void>
  /**
   * Every data frame, in arrival order, handled synchronously as it arrives; an effect it
   * returns runs in the link's fiber before the next frame is handled (`Intake.ts`).
   */
  readonly onFrame: FrameHandler
}

/** How long a clean close may take before the socket is destroyed. */
const CLOSE_GRACE = Duration.seconds(2)

const AUTH_CLOSE_CODES: ReadonlySet<number> = new Set([1008, 4001, 4401, 4403])

/** Unhandled inbound frames (characters of text) above which the socket stops reading. */
const INBOUND_HIGH_WATER_MARK = 64 * 1024

const ignore = () => {}

/**
 * Dials one socket and waits for it to open, for the scope (closed with 1000 when it ends).
 * Fails with why it could not open. `serveLink` starts with it; a probe needs only this.
 */
export const openLink = Effect.fnUntraced(function*(
  options: Pick<LinkOptions, "dial" | "connectTimeout">,
  /** Every data frame, from the first (which may come before the open is seen here). */
  onMessage: (frame: Frame) => void = ignore
) {
  const handle = yield* Effect.acquireRelease(Effect.sync(options.dial), closeGracefully)
  const listener = (event: Socket.WebSocketEvent) => onMessage(asFrame(event.data))
  yield* Effect.acquireRelease(
    Effect.sync(() => handle.addEventListener("message", listener)),
    () => Effect.sync(() => handle.removeEventListener("message", listener))
  )
  const socket = yield* Socket.fromWebSocket(Effect.succeed(lifecycleOf(handle)), { openTimeout: options.connectTimeout })
  const reader = yield* Effect.mapError(socket.reader, (error) => failure(error, handle, options, false))
  return { handle, reader }
})

/**
 * The socket as `effect/socket` sees it: its open, errors and close, but not its data frames,
 * which take the intake's synchronous path (`Intake.ts`). Its reader's `pull` then only ever
 * fails: with why the socket ended.
 */
const lifecycleOf = (handle: WebSocketHandle): Socket.WebSocketLike => ({
  get readyState() {
    return handle.readyState
  },
  addEventListener: (type, listener, options) => {
    if (type !== "message") handle.addEventListener(type, listener, options)
  },
  removeEventListener: (type, listener) => {
    if (type !== "message") handle.removeEventListener(type, listener)
  },
  close: (code, reason) => handle.close(code, reason),
  send: (data) => handle.send(data)
})

const asFrame = (data: unknown): Frame =>
  typeof data === "string" ? data : data instanceof Uint8Array ? data : new Uint8Array(data as ArrayBuffer)

/** Dials and serves one link until it fails; always fails with the reason it ended. */
export const serveLink = Effect.fnUntraced(function*(options: LinkOptions) {
  const linkScope = yield* Effect.scope
  // Frames are taken from the first one on; they wait in the intake's backlog until the link
  // is open and serving.
  let heartbeat: Heartbeat | undefined
  let dialed: WebSocketHandle | undefined
  const intake = makeIntake<ConnectionError>({
    handle: options.onFrame,
    pause: () => dialed?.pause?.(),
    resume: () => dialed?.resume?.(),
    // While the handler's effects run, the frames wait: the silence that follows is ours, not the
    // server's, and does not count toward the heartbeat's threshold.
    busy: (busy) => busy ? heartbeat?.hold() : heartbeat?.release(),
    highWaterMark: INBOUND_HIGH_WATER_MARK
  })
  const { handle, reader } = yield* openLink({ ...options, dial: () => (dialed = options.dial()) }, (frame) => {
    heartbeat?.onFrame()
    intake.onFrame(frame)
  })

  // Open.
  const isOpen = () => handle.readyState === WebSocket.OPEN
  const pings = makePings({ ping: () => handle.ping(), isOpen })
  heartbeat = yield* makeHeartbeat({
    interval: options.heartbeatInterval,
    threshold: options.timeoutThreshold,
    ping: pings.send
  })
  handle.onControlFrame((kind) => {
    heartbeat.onFrame()
    if (kind === "pong") pings.onPong()
  })
  const writes = makeWrites(handle, isOpen)
  const ended = yield* Deferred.make<void>()
  yield* Scope.addFinalizer(linkScope, Effect.suspend(() => {
    writes.failAll()
    pings.failAll()
    // A paused socket could not read the server's close frame.
    handle.resume?.()
    return Effect.andThen(options.onClose, Deferred.succeed(ended, undefined))
  }))
  yield* options.onOpen({
    generation: options.generation,
    writeAll: writes.writeAll,
    tryWriteAll: writes.tryWriteAll,
    confirm: pings.confirm,
    confirmThen: pings.confirmThen,
    isOpen,
    drop: Effect.andThen(Effect.sync(() => handle.terminate()), Deferred.await(ended))
  })

  // Serve. No closing handshake with a silent peer: destroy the socket, which ends the read.
  let silent = false
  yield* Effect.forkScoped(Effect.andThen(heartbeat.timeout, Effect.sync(() => {
    silent = true
    handle.terminate()
  })))
  // The socket's end, as `effect/socket` reports it; the intake still handles every frame that
  // came before it.
  yield* Effect.forkScoped(Effect.matchEffect(reader.pull, {
    onFailure: (error) =>
      Effect.sync(() =>
        intake.end(
          silent
            ? new ConnectionError({ reason: new HeartbeatTimeout({ silentMillis: options.timeoutThreshold }), opened: true })
            : failure(error, handle, options, true)
        )
      ),
    onSuccess: () => Effect.die(new Error("a data frame reached the socket's lifecycle reader"))
  }))
  return yield* intake.run
})

/** Why the link ended: what the socket noted itself, else what the close or open error says. */
const failure = (
  error: Socket.SocketError,
  handle: WebSocketHandle,
  options: Pick<LinkOptions, "connectTimeout">,
  opened: boolean
): ConnectionError =>
  new ConnectionError({ reason: handle.endReason() ?? reasonOf(error.reason, options), opened })

const reasonOf = (reason: Socket.SocketError["reason"], options: Pick<LinkOptions, "connectTimeout">): ConnectionErrorReason => {
  if (reason._tag === "SocketCloseError") {
    if (AUTH_CLOSE_CODES.has(reason.code)) return new AuthenticationError({ closeCode: reason.code })
    if (reason.code === 1009) return new FrameTooLarge()
    return new Closed({ code: reason.code, ...(reason.closeReason ? { closeReason: reason.closeReason } : {}) })
  }
  if (reason._tag === "SocketOpenError") {
    return reason.kind === "Timeout" ? new OpenTimeout({ timeoutMillis: options.connectTimeout }) : new OpenFailed({})
  }
  return new Closed({})
}

/**
 * Closes with 1000 and waits briefly for the server's close frame, then destroys the socket.
 *
 * Gotchas: a socket already `CLOSING` (ws refused a frame over the limit and queued its 1009) gets
 * the same moment: destroyed at once, its close frame could die unsent and the server see 1006.
 */
const closeGracefully = (handle: WebSocketHandle): Effect.Effect<void> => {
  if (handle.readyState === WebSocket.CLOSED) return Effect.void
  if (handle.readyState === WebSocket.CONNECTING) return Effect.sync(() => handle.terminate())
  return Effect.callback<void>((resume) => {
    const onClose = () => resume(Effect.void)
    handle.addEventListener("close", onClose, { once: true })
    if (handle.readyState === WebSocket.OPEN) handle.close(1000, "closing")
    return Effect.sync(() => handle.removeEventListener("close", onClose))
  }).pipe(
    Effect.timeoutOrElse({ duration: CLOSE_GRACE, orElse: () => Effect.sync(() => handle.terminate()) })
  )
}

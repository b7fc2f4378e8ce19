/**
 * A fake `WebSocketDialer` for tests under `TestClock`: every dial makes a `FakeSocket` the test
 * drives by hand (open, receive, close, refuse, pong), with no network and no real time.
 *
 * ```ts
 * const dial = fakeDialer((socket) => socket.open())
 * const layer = Connection.layerNoDeps.pipe(Layer.provide(dial.layer), Layer.provide(config))
 * // … dial.sockets[0].receive(frame); dial.sockets[0].sent holds what the connector wrote
 * ```
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import { type ConnectionErrorReason, upgradeRefused } from "../ConnectionError.ts"
import { WebSocketDialer } from "../WebSocketDialer.ts"
import type { DialOptions, WebSocketHandle } from "../WebSocketHandle.ts"

type Listener = (event: any) => void

const utf8 = new TextDecoder()

/**
 * One dialed socket, driven by the test. `sent` holds every text frame the connector wrote; its
 * first on every link is the connector's `hello` (protocol v2), and `messages` leaves that and any
 * `ack` out: what a v1 server reads.
 */
export class FakeSocket implements WebSocketHandle {
  readyState = 0
  readonly sent: Array<string> = []
  /** The `"message"` envelopes among `sent`. */
  get messages(): Array<string> {
    return this.sent.filter((json) => JSON.parse(json).type === "message")
  }
  pings = 0
  /** True while the connector has stopped reading (too many frames wait to be handled). */
  paused = false
  terminated = false
  closedWith: number | undefined
  /** Answers every ping at once, as a live server does; set false for a silent peer. */
  autoPong = true
  private ended: ConnectionErrorReason | undefined
  private readonly listeners = new Map<string, Set<Listener>>()
  private readonly controlListeners: Array<(kind: "ping" | "pong") => void> = []

  readonly url: string
  readonly options: DialOptions
  constructor(url: string, options: DialOptions) {
    this.url = url
    this.options = options
  }

  addEventListener(type: string, listener: Listener, options?: { readonly once?: boolean }) {
    const wrapped: Listener = options?.once
      ? (event) => {
        this.listeners.get(type)?.delete(wrapped)
        listener(event)
      }
      : listener
    ;(wrapped as any).original = listener
    if (!this.listeners.has(type)) this.listeners.set(type, new Set())
    this.listeners.get(type)!.add(wrapped)
  }
  removeEventListener(type: string, listener: Listener) {
    for (const l of this.listeners.get(type) ?? []) if (l === listener || (l as any).original === listener) this.listeners.get(type)!.delete(l)
  }
  private emit(type: string, event: unknown) {
    for (const l of [...(this.listeners.get(type) ?? [])]) l(event)
  }

  // --- driven by the test ---
  open() {
    this.readyState = 1
    this.emit("open", {})
  }
  receive(data: string | Uint8Array) {
    this.emit("message", { data })
  }
  serverClose(code: number, reason = "") {
    if (this.readyState === 3) return
    this.readyState = 3
    this.emit("close", { code, reason })
  }
  /** A refused upgrade with this HTTP status. */
  refuse(status?: number) {
    if (status !== undefined) this.ended = upgradeRefused(status)
    this.readyState = 3
    this.emit("error", {})
    this.emit("close", { code: 1006, reason: "" })
  }
  pong() {
    for (const l of this.controlListeners) l("pong")
  }
  get listenerCount() {
    let n = 0
    for (const set of this.listeners.values()) n += set.size
    return n
  }

  // --- WebSocketHandle ---
  close(code?: number) {
    this.closedWith = code
    this.serverClose(code ?? 1005)
  }
  send(data: string | Uint8Array) {
    this.sent.push(String(data))
  }
  sendText(data: string | Uint8Array, done: (error?: Error) => void) {
    if (this.readyState !== 1) return done(new Error("not open"))
    this.sent.push(typeof data === "string" ? data : utf8.decode(data))
    done()
  }
  ping() {
    this.pings++
    if (this.autoPong) this.pong()
  }
  pause() {
    this.paused = true
  }
  resume() {
    this.paused = false
  }
  terminate() {
    this.terminated = true
    this.serverClose(1006)
  }
  onControlFrame(listener: (kind: "ping" | "pong") => void) {
    this.controlListeners.push(listener)
  }
  endReason() {
    return this.ended
  }
}

/**
 * A dialer whose sockets start in the state `behaviour` puts them in: call `socket.open()` to
 * succeed at once, `socket.refuse()` to fail at once, or nothing to leave the upgrade hanging.
 */
export const fakeDialer = (behaviour: (socket: FakeSocket, attempt: number) => void, now: () => number = () => 0) => {
  const sockets: Array<FakeSocket> = []
  const dialTimes: Array<number> = []
  const layer = Layer.succeed(WebSocketDialer, {
    dial: (url, options) => {
      const socket = new FakeSocket(url, options)
      sockets.push(socket)
      dialTimes.push(now())
      behaviour(socket, sockets.length - 1)
      return socket
    }
  })
  return { sockets, dialTimes, layer }
}

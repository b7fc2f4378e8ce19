/**
 * The outside world of a `Connection`, injected: `WebSocketDialer` creates the sockets, like
 * Effect's own `WebSocketConstructor`. `WebSocketDialer.layer` dials with the `ws` library; tests
 * swap in `fakeDialer` from `insta-claw-connector/testing` and drive each socket by hand.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import type { Socket } from "effect/socket"
import type { ConnectionErrorReason } from "./ConnectionError.ts"
import { dialWs } from "./internal/ws.ts"

/** The slice of a `ws` WebSocket the connection uses. A fake implements it in unit tests. */
export interface WebSocketHandle extends Socket.WebSocketLike {
  /** Sends a text frame; `done` runs once it is written to the OS (or failed). */
  readonly sendText: (data: string, done: (error?: Error) => void) => void
  readonly ping: () => void
  /** Destroys the socket without a closing handshake. */
  readonly terminate: () => void
  /** Registers a listener for control frames: a pong, or the server's own ping. */
  readonly onControlFrame: (listener: (kind: "ping" | "pong") => void) => void
  /**
   * Why the socket ended, when only the socket knows: a refused upgrade's HTTP status, or its
   * own frame limit (1009). `undefined` when the close event says all there is.
   */
  readonly endReason: () => ConnectionErrorReason | undefined
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

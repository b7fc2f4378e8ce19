/**
 * What a `Connection` needs of one socket: `WebSocketHandle`, and the options it is dialed with.
 * The `ws` adapter (`internal/ws.ts`) and the test fake (`testing/FakeDialer.ts`) implement it.
 *
 * @since 0.1.0
 */
import type { Socket } from "effect/socket"
import type { ConnectionErrorReason } from "./ConnectionError.ts"

/** The slice of a `ws` WebSocket the connection uses. A fake implements it in unit tests. */
export interface WebSocketHandle extends Socket.WebSocketLike {
  /**
   * Sends a text frame — a string, or its UTF-8 bytes (which the handle must not change); `done`
   * runs once it is written to the OS (or failed).
   */
  readonly sendText: (data: TextFrame, done: (error?: Error) => void) => void
  readonly ping: () => void
  /**
   * Stops reading from the network until `resume` (TCP backpressure while inbound frames wait);
   * frames already read may still arrive. Optional: without it, waiting frames are only buffered.
   */
  readonly pause?: () => void
  readonly resume?: () => void
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

/** A text frame to send: the text, or its UTF-8 bytes. */
export type TextFrame = string | Uint8Array

export interface DialOptions {
  readonly headers: Readonly<Record<string, string>>
  readonly maxPayload: number
}

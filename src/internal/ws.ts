/**
 * The `ws` adapter behind `WebSocketDialer.layer`: wraps a `ws` client socket as a
 * `WebSocketHandle`, and notes what only the socket learns about why it ended.
 *
 * `WebSocketClass` exists for tests that need the `ws` instance itself (to count its listeners);
 * this module is internal, so the parameter is not part of the public API.
 */
import WebSocket from "ws"
import { AuthenticationError, type ConnectionErrorReason, FrameTooLarge, OpenFailed } from "../ConnectionError.ts"
import type { DialOptions, WebSocketHandle } from "../WebSocketHandle.ts"

export const dialWs = (
  url: string,
  options: DialOptions,
  WebSocketClass: new(url: string, options: WebSocket.ClientOptions) => WebSocket = WebSocket
): WebSocketHandle => {
  // No permessage-deflate: frames are small JSON events, and compression would cost CPU per
  // frame and hold writes in a queue of its own.
  const ws = new WebSocketClass(url, { headers: { ...options.headers }, maxPayload: options.maxPayload, perMessageDeflate: false })
  let endReason: ConnectionErrorReason | undefined
  // A refused upgrade: note why, then abort the handshake.
  ws.on("unexpected-response", (_request, response) => {
    const status = response.statusCode ?? 0
    endReason = status === 401 || status === 403 ? new AuthenticationError({ status }) : new OpenFailed({ status })
    ws.terminate()
  })
  // Errors reach the reader through its own listener. This one notes a frame over `maxPayload`:
  // ws reports it as an error before its close frame (1009) is even written.
  ws.on("error", (error: Error & { readonly code?: string }) => {
    if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") endReason = new FrameTooLarge()
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
    endReason: () => endReason
  }
}

/**
 * The `ws` adapter behind `WebSocketDialer.layer`: wraps a `ws` client socket as a
 * `WebSocketHandle`, and notes what only the socket learns about why it ended.
 *
 * `WebSocketClass` exists for tests that need the `ws` instance itself (to count its listeners);
 * this module is internal, so the parameter is not part of the public API.
 */
import type { Duplex } from "node:stream"
import WebSocket from "ws"
import { Closed, type ConnectionErrorReason, FrameTooLarge, OpenFailed, upgradeRefused } from "../ConnectionError.ts"
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
  let opened = false
  ws.on("open", () => {
    opened = true
  })
  // After the upgrade ws handles errors of the TCP socket itself and only reports a 1006 close;
  // listening on the socket keeps their cause (ECONNRESET, EPIPE, …).
  let tcp: Duplex | undefined
  ws.on("upgrade", (response) => {
    tcp = response.socket
    response.socket.on("error", (error: Error & { readonly code?: string }) => {
      endReason ??= new Closed({ code: 1006, detail: error.message, cause: error })
    })
  })
  // Frames sent in the same tick leave in one write: the TCP socket is corked at the first and
  // uncorked on the next tick (Node's own idiom for batching writes). Without it each frame was
  // a `writev` system call of its own, a tenth of the connector's CPU in the echo bench.
  let corked = false
  const uncork = () => {
    corked = false
    tcp?.uncork()
  }
  const batch = () => {
    if (corked || tcp === undefined) return
    corked = true
    tcp.cork()
    process.nextTick(uncork)
  }
  // Past a frame over `maxPayload`, ws queues its 1009 close but reads the rest of the socket to
  // discard it: a server sending a huge frame had the connector take it all in. Reading stops
  // instead; the close frame still goes out, and the link destroys the socket after its close
  // grace (`connection/Link.ts`). ws resumes the socket on the next tick: pause after that.
  const stopReading = () => {
    process.nextTick(() => tcp?.pause())
  }
  // A refused upgrade: note why, then abort the handshake.
  ws.on("unexpected-response", (_request, response) => {
    const status = response.statusCode ?? 0
    const retryAfterMillis = status === 429 || status === 503 ? retryAfter(response.headers["retry-after"]) : undefined
    endReason = upgradeRefused(status, { statusText: response.statusMessage, retryAfterMillis })
    ws.terminate()
  })
  // Errors reach the reader through its own listener; this one keeps their cause. ws reports a
  // frame over `maxPayload` as an error before its close frame (1009) is even written.
  ws.on("error", (error: Error & { readonly code?: string }) => {
    if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
      endReason = new FrameTooLarge()
      stopReading()
    }
    if (endReason !== undefined) return
    const detail = error.message
    endReason = opened
      ? new Closed({ code: 1006, detail, cause: error })
      : new OpenFailed({ ...(error.code === undefined ? {} : { code: error.code }), detail, cause: error })
  })
  return {
    get readyState() {
      return ws.readyState
    },
    addEventListener: (type, listener, opts) => ws.addEventListener(type, listener as never, opts as never),
    removeEventListener: (type, listener) => ws.removeEventListener(type, listener as never),
    close: (code, reason) => ws.close(code, reason),
    send: (data) => ws.send(data),
    sendText: (data, done) => {
      batch()
      // Bytes are sent as text too; ws masks a copy, never the caller's buffer.
      ws.send(data, { binary: false }, (error) => done(error ?? undefined))
    },
    ping: () => {
      if (ws.readyState !== WebSocket.OPEN) return
      batch()
      ws.ping()
    },
    pause: () => ws.pause(),
    // Never again past a frame over the limit: the link's end resumes a socket its intake paused.
    resume: () => {
      if (!(endReason instanceof FrameTooLarge)) ws.resume()
    },
    terminate: () => ws.terminate(),
    onControlFrame: (listener) => {
      ws.on("pong", () => listener("pong"))
      ws.on("ping", () => listener("ping"))
    },
    endReason: () => endReason
  }
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date. */
const retryAfter = (header: string | Array<string> | undefined): number | undefined => {
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined || value.trim() === "") return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

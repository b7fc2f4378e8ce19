/**
 * The outside world of a `Connection`, injected: `WebSocketDialer` creates the sockets, like
 * Effect's own `WebSocketConstructor`. `WebSocketDialer.layer` dials with the `ws` library; tests
 * swap in `fakeDialer` from `insta-claw-connector/testing` and drive each socket by hand.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import { dialWs } from "./internal/ws.ts"
import type { DialOptions, WebSocketHandle } from "./WebSocketHandle.ts"

export type { DialOptions, TextFrame, WebSocketHandle } from "./WebSocketHandle.ts"

/** Creates WebSockets. `WebSocketDialer.layer` uses the `ws` library. */
export class WebSocketDialer extends Context.Service<WebSocketDialer, {
  readonly dial: (url: string, options: DialOptions) => WebSocketHandle
}>()("insta-claw/WebSocketDialer") {
  static readonly layer = Layer.succeed(WebSocketDialer, { dial: (url, options) => dialWs(url, options) })
}

/** A `Connection` over real sockets, in its own scope, with its log lines captured. */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import type { WebSocket } from "ws"
import { ConnectorConfig, type ConnectorInput } from "../../src/Config.ts"
import { Connection, WebSocketDialer } from "../../src/Connection.ts"
import { dialWs } from "../../src/internal/ws.ts"
import * as InstaLogger from "../../src/Logger.ts"
import { captureSink } from "./logs.ts"

/**
 * Opens a Connection in its own scope, so a test can close it and watch the close code.
 * `WebSocketClass` lets a test reach the `ws` instance or change its options.
 */
export const openConnectionWith = (
  url: string,
  config: ConnectorInput,
  options: {
    readonly keepLogs?: boolean
    readonly debug?: boolean
    readonly WebSocketClass?: new(url: string, options: WebSocket.ClientOptions) => WebSocket
  } = {}
) =>
  Effect.gen(function*() {
    const logs = captureSink()
    const discard = { info: () => {}, warn: () => {}, error: () => {} }
    const layer = Connection.layerNoDeps.pipe(
      Layer.provide(Layer.succeed(WebSocketDialer, { dial: (u, o) => dialWs(u, o, options.WebSocketClass) })),
      Layer.provide(ConnectorConfig.layerFromInput({ url, ...config })),
      Layer.provideMerge(InstaLogger.layer({ debug: options.debug ?? true, sink: options.keepLogs === false ? discard : logs.sink }))
    )
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* Layer.buildWithScope(layer, scope)
    return { connection: Context.get(context, Connection), logs, close: Scope.close(scope, Exit.void) }
  })

/** A `Connection` over real sockets, in its own scope, with its log lines captured. */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { assert } from "vitest"
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

/** One turn of the event loop: real sockets read and write. */
export const ioTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * Steps the test clock, a turn at a time, until a link that is ending has let go (the socket is
 * destroyed at the end of its close grace when the server's close frame is not read).
 */
export const throughCloseGrace = (connection: Connection["Service"]) =>
  Effect.gen(function*() {
    for (let step = 0; step < 100; step++) {
      if ((yield* connection.state) === "reconnecting") return
      yield* TestClock.adjust("100 millis")
      yield* ioTurn
    }
    assert.fail("the link did not end within its close grace")
  })

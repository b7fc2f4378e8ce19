/**
 * Run as a child process by Connection.loopback.test.ts: opens a Connection to the URL in argv,
 * waits until it is connected, closes its scope and returns — without calling process.exit.
 * The process ending on its own proves nothing (socket, timer, fiber) was left running.
 */
import { Effect, Layer, Stream } from "effect"
import { ConnectorConfig } from "../../src/Config.ts"
import { Connection } from "../../src/Connection.ts"
import * as InstaLogger from "../../src/Logger.ts"

const url = process.argv[2]!
const program = Effect.gen(function*() {
  const connection = yield* Connection
  yield* connection.stateChanges.pipe(Stream.filter((state) => state === "connected"), Stream.runHead)
}).pipe(
  Effect.provide(Connection.layer.pipe(
    Layer.provide(ConnectorConfig.layerFromInput({ clientId: "demo", clientSecret: "demo-secret", url })),
    Layer.provide(InstaLogger.layer({ debug: false }))
  ))
)

Effect.runPromise(program).then(() => process.stdout.write("closed\n"))

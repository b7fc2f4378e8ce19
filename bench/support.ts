/**
 * Shared parts of the benchmark and the soak: a reference server and a connector in one process
 * on 127.0.0.1, event waiting without polling, and small statistics.
 */
import { Context, Effect, Exit, Layer, ManagedRuntime, Scope, Stream } from "effect"
import { Agent } from "../src/Agent.ts"
import { ConnectorConfig, type ConnectorInput } from "../src/Config.ts"
import { Connection, WebSocketDialer } from "../src/Connection.ts"
import { Connector } from "../src/Connector.ts"
import * as InstaClaw from "../src/InstaClaw.ts"
import { LogSink, type LogSinkShape } from "../src/Logger.ts"
import { ReferenceServer, type ReferenceServerOptions, type ServerEvent } from "../src/server/ReferenceServer.ts"

export const quietSink: LogSinkShape = { info: () => {}, warn: () => {}, error: () => {} }

/** A reference server whose events can be awaited by predicate. */
export const serverHarness = async (options: ReferenceServerOptions = {}) => {
  const runtime = ManagedRuntime.make(ReferenceServer.layer({ port: 0, ...options }))
  const server = await runtime.runPromise(Effect.gen(function*() {
    return yield* ReferenceServer
  }))
  const listeners = new Set<(event: ServerEvent) => void>()
  runtime.runFork(Stream.runForEach(server.events, (event) => Effect.sync(() => {
    for (const listener of listeners) listener(event)
  })))
  await runtime.runPromise(Effect.yieldNow)
  return {
    server,
    run: <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect),
    on: (listener: (event: ServerEvent) => void) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    /** Resolves when `count` events match. */
    count: (match: (event: ServerEvent) => boolean, count: number) =>
      new Promise<void>((resolve) => {
        let seen = 0
        if (count === 0) return resolve()
        const listener = (event: ServerEvent) => {
          if (match(event) && ++seen === count) {
            listeners.delete(listener)
            resolve()
          }
        }
        listeners.add(listener)
      }),
    close: () => runtime.dispose()
  }
}

/**
 * Sends `count` user messages from the reference server, one conversation after another within
 * each of `conversations` conversations (all conversations at once); waits for every reply.
 */
export const roundTrips = async (harness: Awaited<ReturnType<typeof serverHarness>>, count: number, conversations: number) => {
  const done = harness.count((event) => event._tag === "ReplyCompleted", count)
  await harness.run(
    Effect.forEach(
      Array.from({ length: conversations }, (_, c) => c),
      (c) =>
        Effect.forEach(
          Array.from({ length: Math.ceil(count / conversations) }, (_, i) => c + i * conversations).filter((i) => i < count),
          (i) => harness.server.sendUserMessage({ conversationId: `conv_${c}`, text: `message ${i} says hello` }),
          { discard: true }
        ),
      { concurrency: "unbounded", discard: true }
    )
  )
  await done
}

/** A connector in its own scope, against `url`, with a given agent. */
export const connectorHarness = async (
  url: string,
  agent: Layer.Layer<Agent>,
  input: ConnectorInput = {},
  sink: LogSinkShape = quietSink,
  extra: Layer.Layer<never> = Layer.empty
) => {
  const layer = InstaClaw.layerWithConfig.pipe(
    Layer.provide(extra),
    Layer.provide(agent),
    Layer.provide(WebSocketDialer.layer),
    Layer.provideMerge(ConnectorConfig.layerFromInput({ clientId: "demo", clientSecret: "demo-secret", url, ...input })),
    Layer.provide(Layer.succeed(LogSink, sink))
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const connector = Context.get(context, Connector)
  const connection = Context.get(context, Connection)
  await Effect.runPromise(connector.statusChanges.pipe(Stream.filter((s) => s.state === "connected"), Stream.runHead))
  return { connector, connection, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  collect?.()
  collect?.()
}

export const heapMiB = () => process.memoryUsage().heapUsed / 1024 / 1024
export const rssMiB = () => process.memoryUsage().rss / 1024 / 1024

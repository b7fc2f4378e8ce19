/**
 * A reference server on 127.0.0.1 and a connector against it, each in its own scope, with the
 * connector's log lines captured. Time is whatever the test runs on (`TestClock` in it.effect).
 */
import { Context, Effect, Exit, Layer, PubSub, Scope } from "effect"
import type { Agent } from "../../src/Agent.ts"
import type { ConnectorInput } from "../../src/Config.ts"
import { Connector } from "../../src/Connector.ts"
import * as InstaClaw from "../../src/InstaClaw.ts"
import { LogSink } from "../../src/Logger.ts"
import { ReferenceServer, type ReferenceServerOptions, type ServerEvent } from "../../src/server/ReferenceServer.ts"
import { captureSink } from "./logs.ts"

export const startServer = (options: ReferenceServerOptions = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(ReferenceServer.layer({ port: 0, ...options }))
    const server = Context.get(context, ReferenceServer)
    const events = yield* server.subscribe
    return { server, events }
  })

export const startConnector = (url: string, agent: Layer.Layer<Agent>, config: ConnectorInput = {}, extra: InstaClaw.LayerOptions = {}) =>
  Effect.gen(function*() {
    const logs = captureSink()
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const layer = InstaClaw.layer({ clientId: "demo", clientSecret: "demo-secret", url, ...config }, extra).pipe(
      Layer.provide(agent),
      Layer.provide(Layer.succeed(LogSink, logs.sink))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    return { connector: Context.get(context, Connector), logs, close: Scope.close(scope, Exit.void) }
  })

/** Takes events until one matches, returning it. */
export const waitFor = <T extends ServerEvent["_tag"]>(
  events: PubSub.Subscription<ServerEvent>,
  tag: T,
  where: (event: Extract<ServerEvent, { readonly _tag: T }>) => boolean = () => true
) =>
  Effect.gen(function*() {
    while (true) {
      const event = yield* PubSub.take(events)
      if (event._tag === tag && where(event as Extract<ServerEvent, { readonly _tag: T }>)) {
        return event as Extract<ServerEvent, { readonly _tag: T }>
      }
    }
  })

/** Takes the next `n` events with the tag, skipping others. */
export const collect = <T extends ServerEvent["_tag"]>(events: PubSub.Subscription<ServerEvent>, tag: T, n: number) =>
  Effect.gen(function*() {
    const out: Array<Extract<ServerEvent, { readonly _tag: T }>> = []
    while (out.length < n) out.push(yield* waitFor(events, tag))
    return out
  })


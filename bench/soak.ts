/**
 * `npm run soak`: the connector against the reference server while the server drops the link
 * again and again — by default 1000 times — with messages flowing both ways around every drop.
 *
 * Each cycle: the server streams user messages (the echo agent answers them) and the connector
 * sends a message of its own; at a random point the server drops every connection. After the
 * reconnect the server redelivers whatever it cannot know arrived, as a real server does. At the
 * end every message must have been answered exactly once and every outbound message received
 * exactly once, and listeners, handles and heap must not have grown.
 *
 * The reconnect backoff runs on `TestClock` (1000 real backoffs would take half an hour); the
 * sockets, frames and drops are real. Bounded: SOAK_CYCLES (default 1000), seeded randomness.
 */
import { Context, Effect, Exit, Fiber, Layer, PubSub, Random, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import WebSocket from "ws"
import { Agent } from "../src/Agent.ts"
import { ConnectorConfig } from "../src/Config.ts"
import { WebSocketDialer } from "../src/Connection.ts"
import { dialWs } from "../src/internal/ws.ts"
import { Connector } from "../src/Connector.ts"
import * as InstaClaw from "../src/InstaClaw.ts"
import { LogSink } from "../src/Logger.ts"
import { ReferenceServer, type ServerEvent } from "../src/server/ReferenceServer.ts"
import { gc, heapMiB, quietSink } from "./support.ts"

const CYCLES = Number(process.env.SOAK_CYCLES ?? "1000")
/** SOAK_DEBUG=1 keeps the connector's debug log and prints its end if a cycle fails. */
const DEBUG = process.env.SOAK_DEBUG === "1"
const debugLines: Array<string> = []
const keep = (line: string) => {
  debugLines.push(line)
  if (debugLines.length > 400) debugLines.splice(0, 200)
}
const USER_MESSAGES_PER_CYCLE = 3

let latestClient: WebSocket | undefined
class TrackedWebSocket extends WebSocket {
  constructor(url: string, options: WebSocket.ClientOptions) {
    super(url, options)
    latestClient = this
  }
}
const listenersOf = (ws: WebSocket) => ws.eventNames().reduce((n, name) => n + ws.listenerCount(name), 0)

const program = Effect.gen(function*() {
  const server = Context.get(yield* Layer.build(ReferenceServer.layer({ port: 0, deltaSize: 7 })), ReferenceServer)
  const events = yield* server.subscribe
  const replies = new Map<string, number>()
  const seen: Array<ServerEvent> = []
  yield* Effect.forkScoped(
    Stream.runForEach(Stream.fromSubscription(events), (event) =>
      Effect.sync(() => {
        seen.push(event)
        if (seen.length > 1000) seen.splice(0, seen.length - 1000)
        if (event._tag === "ReplyCompleted") replies.set(event.text, (replies.get(event.text) ?? 0) + 1)
      }))
  )

  const connectorScope = yield* Scope.make()
  const layer = InstaClaw.layerWithConfig.pipe(
    Layer.provide(Agent.echo),
    Layer.provide(Layer.succeed(WebSocketDialer, { dial: (url, options) => dialWs(url, options, TrackedWebSocket) })),
    Layer.provideMerge(ConnectorConfig.layerFromInput({ clientId: "demo", clientSecret: "demo-secret", url: server.url, deltaSize: 5, debug: DEBUG })),
    Layer.provide(Layer.succeed(LogSink, DEBUG ? { info: keep, warn: keep, error: keep, debug: keep } : quietSink))
  )
  const connector = Context.get(yield* Layer.buildWithScope(layer, connectorScope), Connector)
  const states = yield* PubSub.unbounded<string>()
  yield* Effect.forkScoped(Stream.runForEach(connector.statusChanges, (s) => PubSub.publish(states, s.state)))
  const reach = (state: string) => connector.statusChanges.pipe(Stream.filter((s) => s.state === state), Stream.runHead)
  yield* reach("connected")

  const expected: Array<string> = []
  const awaitReplies = (texts: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      while (!texts.every((text) => replies.has(text))) yield* Effect.yieldNow
    })

  let before = { heap: 0, handles: 0, listeners: 0 }
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const texts = Array.from({ length: USER_MESSAGES_PER_CYCLE }, (_, i) => `cycle ${cycle} message ${i} from the user`)
    const outbound = `cycle ${cycle} outbound from the connector`
    expected.push(...texts, outbound)

    const sends = yield* Effect.forkChild(
      Effect.forEach(texts, (text, i) =>
        server.sendUserMessage({ conversationId: `conv_${(cycle + i) % 7}`, text }).pipe(
          Effect.map((sent) => sent.responseId),
          Effect.catchTag("NoClientError", (error) => Effect.succeed(error.responseId))
        ), { concurrency: "unbounded" })
    )
    const outgoing = yield* Effect.forkChild(connector.send(`conv_out_${cycle % 5}`, outbound))

    // Drop at a random point: before, during or after the frames.
    const wait = yield* Random.nextIntBetween(0, 40)
    for (let i = 0; i < wait; i++) yield* Effect.yieldNow
    yield* server.dropAll()
    yield* reach("reconnecting")
    yield* TestClock.adjust("2 seconds")
    yield* reach("connected")

    // Redeliver every user message of this cycle not yet answered: the connector dedupes.
    const responseIds = yield* Fiber.join(sends)
    for (const [i, text] of texts.entries()) {
      if (!replies.has(text)) yield* server.redeliver(responseIds[i]!)
    }
    yield* Fiber.join(outgoing)
    yield* awaitReplies([...texts, outbound]).pipe(
      Effect.timeoutOrElse({ duration: "1 minute", orElse: () => {
          const missing = [...texts, outbound].filter((text) => !replies.has(text))
          const log = debugLines.filter((line) => !line.includes("Dropped a redelivered")).slice(-60).join("\n")
          return Effect.die(new Error(`cycle ${cycle}: no reply to ${JSON.stringify(missing)}${DEBUG ? `\n${log}` : " (SOAK_DEBUG=1 shows the log)"}`))
        } }),
      TestClock.withLive
    )

    if (cycle === Math.min(50, CYCLES - 1)) {
      gc()
      before = { heap: heapMiB(), handles: process.getActiveResourcesInfo().length, listeners: listenersOf(latestClient!) }
    }
    if (cycle % 100 === 99) console.log(`  ${cycle + 1} reconnects`)
  }

  gc()
  const after = { heap: heapMiB(), handles: process.getActiveResourcesInfo().length, listeners: listenersOf(latestClient!) }
  yield* Scope.close(connectorScope, Exit.void)

  const missing = expected.filter((text) => !replies.has(text))
  const doubled = [...replies.entries()].filter(([, count]) => count !== 1)
  console.log(`\n${CYCLES} reconnects, ${expected.length} messages (${CYCLES * USER_MESSAGES_PER_CYCLE} user messages answered, ${CYCLES} sent by the connector)`)
  console.log(`  delivered exactly once: ${expected.length - missing.length} of ${expected.length}; missing ${missing.length}; more than once ${doubled.length}`)
  console.log(`  heap ${before.heap.toFixed(1)} → ${after.heap.toFixed(1)} MiB; active handles ${before.handles} → ${after.handles}; listeners on the live socket ${before.listeners} → ${after.listeners}`)
  const ok = missing.length === 0 && doubled.length === 0 && after.handles <= before.handles + 2 &&
    after.listeners === before.listeners && after.heap - before.heap < Math.max(8, before.heap * 0.2)
  console.log(ok ? "soak passed" : "soak FAILED")
  return ok
}).pipe(Effect.scoped, Effect.provide(TestClock.layer()), Random.withSeed("soak"))

Effect.runPromise(program).then((ok) => process.exit(ok ? 0 : 1), (error) => {
  console.error(error)
  process.exit(1)
})

#!/usr/bin/env node
/**
 * The `insta-claw` command line.
 *
 * - `insta-claw demo` — `npm start`: a reference server and a connector with the echo agent,
 *   on this machine; sends a short conversation and prints each reply as it streams in, then
 *   one image (served by the reference server itself) and its way back.
 * - `insta-claw serve` — the reference server, for pointing OpenClaw (or any client) at;
 *   type a message, watch the reply stream in, and (protocol v2) how many messages wait for an ack.
 *   `#grp_1 ada: hello @agent` speaks in a group as someone (`UserMessage.fromServeLine`).
 * - `insta-claw connect` — the connector alone, with the echo agent, configured from
 *   `INSTACLAW_*` environment variables, until SIGINT/SIGTERM; prints each medium it receives.
 *
 * Terminal output is the point of this module; everything else logs through the Logger layer.
 */
import { NodeChildProcessSpawner, NodeFileSystem, NodePath, NodeRuntime, NodeStdio, NodeTerminal } from "@effect/platform-node-shared"
import { Cause, Console, Context, Effect, Exit, Layer, Option, PubSub, Redacted, Scope, Stream } from "effect"
import { Command, Flag, GlobalFlag } from "effect/cli"
import * as readline from "node:readline"
import * as v8 from "node:v8"
import { Buffer } from "node:buffer"
import { Agent, echoMedia, echoReply } from "./Agent.ts"
import { type ConfigError, ConnectorConfig } from "./Config.ts"
import { WebSocketDialer } from "./Connection.ts"
import { Connector } from "./Connector.ts"
import * as InstaClaw from "./InstaClaw.ts"
import { heapFlags } from "./internal/heapFlags.ts"
import { LogLevelOverride } from "./Logger.ts"
import { describeUrl, type MediaPart } from "./Media.ts"
import { ReferenceServer, type ServerEvent } from "./server/ReferenceServer.ts"
import { fromServeLine } from "./server/UserMessage.ts"

// The command line owns its process: it sizes V8's heap for a connector (`internal/heapFlags.ts`).
for (const flag of heapFlags([...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" "))) v8.setFlagsFromString(flag)

/**
 * The platform services `effect/cli` needs. `@effect/platform-node`'s `NodeServices.layer` is
 * these five layers; they come from its smaller `-shared` package here, so installing this
 * package (into OpenClaw, say) does not bring `@effect/platform-node`'s redis peer along.
 */
const NodeServices = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeStdio.layer, NodeTerminal.layer)
)

/** The connector's logger follows `--log-level` when it is given (otherwise its `debug` setting). */
const withLogLevelFlag = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  Layer.unwrap(Effect.gen(function*() {
    const level = yield* GlobalFlag.LogLevel
    return Option.match(level, {
      onNone: () => layer,
      onSome: (minimum) => Layer.provide(layer, Layer.succeed(LogLevelOverride, minimum))
    })
  }))

const write = (text: string) => Effect.sync(() => process.stdout.write(text))

/** One line for a medium: its kind, where it is (no bytes, no query), its name and type. */
const mediaLine = (media: MediaPart) =>
  `[${media.kind} ${describeUrl(media.url)}${media.filename === undefined ? "" : ` "${media.filename}"`}${media.mimeType === undefined ? "" : ` ${media.mimeType}`}]`

/** Prints `label` and then every delta of the next reply in `conversationId`, live, and its media; returns it. */
const printReply = (events: PubSub.Subscription<ServerEvent>, conversationId: string, label: string) =>
  Effect.gen(function*() {
    yield* write(label)
    while (true) {
      const event = yield* PubSub.take(events)
      if (!("conversationId" in event) || event.conversationId !== conversationId) continue
      if (event._tag === "ReplyDelta") yield* write(event.delta.replaceAll("\n", `\n${" ".repeat(label.length)}`))
      if (event._tag === "ReplyCompleted") {
        const media = (event.media ?? []).map((part) => mediaLine(part)).join(`\n${" ".repeat(label.length)}`)
        yield* write(event.text === "" || media === "" ? `${media}\n` : `\n${" ".repeat(label.length)}${media}\n`)
        return Option.some(event)
      }
      if (event._tag === "ReplyFailed") {
        yield* write(`[failed: ${event.code}: ${event.message}]\n`)
        return Option.none<Extract<ServerEvent, { readonly _tag: "ReplyCompleted" }>>()
      }
    }
  })

const indent = (text: string, label: string) => text.replaceAll("\n", `\n${" ".repeat(label.length)}`)

const countMessages = (n: number) => `${n} message${n === 1 ? "" : "s"}`

// ---------------------------------------------------------------------------------------------
// demo
// ---------------------------------------------------------------------------------------------

/** A one-pixel PNG: the demo's picture. */
const PIXEL = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64")

const SCRIPT = [
  "Hello! Is anybody out there?",
  "Here is a longer message, to show streaming.\nIt has several lines:\n  - the connector assembles the user's deltas,\n  - hands the text to the agent,\n  - and streams the reply back as Open Responses events.",
  "Unicode survives the trip: 你好，世界 😀 👩‍👩‍👧 ¡Olé!"
]

const demo = Command.make(
  "demo",
  {},
  Effect.fn(function*() {
    yield* Console.log("InstaClaw demo: a reference server and a connector (echo agent) on this machine.\n")
    const scope = yield* Scope.make()
    const server = Context.get(yield* Layer.buildWithScope(ReferenceServer.layer({ port: 0 }), scope), ReferenceServer)
    const events = yield* Scope.provide(server.subscribe, scope)
    const seen = yield* Scope.provide(server.subscribe, scope)
    yield* Console.log(`  server     ${server.url}`)

    const connectorScope = yield* Scope.make()
    const connectorLayer = InstaClaw.layerWithConfig.pipe(
      Layer.provide(Agent.echoPaced("60 millis")),
      Layer.provide(WebSocketDialer.layer),
      Layer.provideMerge(ConnectorConfig.layerFromInput({ clientId: "demo", clientSecret: "demo-secret", url: server.url })),
      withLogLevelFlag
    )
    const connector = Context.get(yield* Layer.buildWithScope(connectorLayer, connectorScope), Connector)
    yield* connector.statusChanges.pipe(Stream.filter((s) => s.state === "connected"), Stream.runHead)
    yield* Console.log("  connector  connected (x-app-key: demo)\n")

    let complete = 0
    for (const [i, text] of SCRIPT.entries()) {
      const conversationId = `conv_demo_${i + 1}`
      yield* Console.log(`you   › ${indent(text, "you   › ")}`)
      yield* server.sendUserMessage({ conversationId, text, senderId: "newcomer", senderName: "You" })
      const reply = yield* printReply(events, conversationId, "echo  ‹ ")
      if (Option.isSome(reply) && reply.value.text === text) complete++
      yield* Console.log("")
    }

    // Media (docs/PROTOCOL.md §8.1): an image the server serves itself, on 127.0.0.1, goes to the
    // echo agent and comes back by URL; its bytes are fetched again to show they are the same.
    const image = yield* server.putMedia(PIXEL, "image/png")
    const picture = { kind: "image" as const, url: image, filename: "pixel.png" }
    yield* Console.log(`you   › Here is a picture.\n        ${mediaLine(picture)}`)
    yield* server.sendUserMessage({ conversationId: "conv_demo_image", text: "Here is a picture.", media: [picture] })
    const echoed = yield* printReply(events, "conv_demo_image", "echo  ‹ ")
    const back = Option.isSome(echoed) ? echoed.value.media?.[0] : undefined
    const same = back?.url === image && PIXEL.equals(yield* Effect.promise(async () => Buffer.from(await (await fetch(image)).arrayBuffer())))
    yield* Console.log(same ? `The image came back by URL: the same ${PIXEL.length} bytes.\n` : "The image did not come back.\n")

    // Protocol v2 (docs/PROTOCOL.md §6–§7): say what the hellos agreed on and what is unacknowledged.
    const hello = (yield* PubSub.takeAll(seen)).find((event) => event._tag === "Hello")
    const unacknowledged = yield* server.unacknowledged
    if (hello !== undefined) {
      yield* Console.log(`The connector spoke protocol v2 (features: ${hello.features.join(", ") || "none"}); ${countMessages(unacknowledged)} unacknowledged.`)
    }
    yield* Scope.close(connectorScope, Exit.void)
    yield* Scope.close(scope, Exit.void)
    yield* Console.log(`${complete} of ${SCRIPT.length} replies came back complete. Connector closed with 1000; server stopped.`)
    if (complete !== SCRIPT.length || !same) return yield* Effect.fail(new Error("Some replies did not come back complete"))
  })
).pipe(Command.withDescription("Run a reference server and a connector together and show a streamed round trip"))

// ---------------------------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------------------------

const serve = Command.make(
  "serve",
  {
    port: Flag.Int("port").pipe(Flag.withDescription("Port to listen on (0 picks a free one)"), Flag.withDefault(8787)),
    clientId: Flag.String("client-id").pipe(Flag.withDescription("Accepted x-app-key"), Flag.withDefault("demo")),
    clientSecret: Flag.Redacted("client-secret").pipe(
      Flag.withDescription("Accepted x-app-secret"),
      Flag.withDefault(Redacted.make("demo-secret"))
    )
  },
  Effect.fn(function*({ clientId, clientSecret, port }) {
    const server = Context.get(
      yield* Layer.build(ReferenceServer.layer({ port, clientId, clientSecret: Redacted.value(clientSecret) })),
      ReferenceServer
    )
    const events = yield* server.subscribe
    yield* Console.log(`InstaClaw reference server listening on ${server.url}`)
    yield* Console.log(`Point a connector at it:\n  INSTACLAW_WS_URL=${server.url} INSTACLAW_CLIENT_ID=${clientId} INSTACLAW_CLIENT_SECRET=<the secret>`)
    yield* Console.log(`Type a message and press Enter to send it to conversation conv_1; "@conv_2 text" sends to another;`)
    yield* Console.log(`"#grp_1 ada: hello @agent" says it in group grp_1 as ada (mentioned: the text has the word @agent).\n`)

    // Connection events and replies, printed as they happen. Once a client has said hello
    // (protocol v2), status lines end with how many messages wait for its ack; an ack for a
    // message sent again (which may get no reply, being answered already) gets a line of its own.
    const unacknowledged = { count: 0, shown: false, redelivered: new Set<string>() }
    const status = (text: string) =>
      Console.log(unacknowledged.shown ? `[${text}; ${countMessages(unacknowledged.count)} waiting for an ack]` : `[${text}]`)
    yield* Effect.forkScoped(Stream.runForEach(Stream.fromSubscription(events), (event) => {
      switch (event._tag) {
        case "ClientConnected":
          return status(`connector connected: ${event.clientId}`)
        case "ClientDisconnected":
          return status(`connector disconnected: close code ${event.code}`)
        case "AuthRefused":
          return Console.log("[refused a connector with wrong credentials: HTTP 401]")
        case "Hello":
          unacknowledged.shown = true
          return status(`${event.clientId} speaks protocol v2, features: ${event.features.join(", ") || "none"}`)
        case "Redelivered":
          for (const id of event.responseIds) unacknowledged.redelivered.add(id)
          return status(`sent ${countMessages(event.responseIds.length)} again to ${event.clientId}`)
        case "Unacknowledged":
          unacknowledged.count = event.count
          return Effect.void
        case "Acked":
          return event.settled && unacknowledged.redelivered.delete(event.responseId)
            ? status(`${event.clientId} acknowledged a message sent again`)
            : Effect.void
        case "ReplyDelta":
          return write(event.delta)
        case "ReplyCompleted":
          return Effect.andThen(write(["", ...(event.media ?? []).map(mediaLine)].join("\n") + "\n"), status(`reply complete in ${event.conversationId}${event.replyToId === undefined ? "" : `, quoting ${event.replyToId}`}`))
        case "ReplyFailed":
          return Effect.andThen(write("\n"), status(`reply failed in ${event.conversationId}: ${event.code}: ${event.message}`))
        default:
          return Effect.void
      }
    }))

    const lines = readline.createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true })
    yield* Effect.addFinalizer(() => Effect.sync(() => lines.close()))
    yield* Stream.fromAsyncIterable(lines, (cause) => cause).pipe(
      Stream.orDie,
      Stream.map((line) => line.trim()),
      Stream.filter((line) => line.length > 0),
      Stream.runForEach((line) => {
        const message = fromServeLine(line)
        const { conversationId } = message
        return server.sendUserMessage(message).pipe(
          Effect.andThen(({ queued }) =>
            queued ? status(`kept for ${conversationId}: goes out after the connector's next hello`) : write(`[sent to ${conversationId}] `)
          ),
          Effect.catchTag("FeatureNotAgreedError", (error) => status(error.message)),
          Effect.timeoutOrElse({ duration: "60 seconds", orElse: () => Console.log("[no connector connected within 60 s]") })
        )
      })
    )
    // stdin ended (no TTY, or Ctrl-D): keep serving until SIGINT/SIGTERM.
    return yield* Effect.never
  }, Effect.scoped)
).pipe(
  Command.withShortDescription("Run the InstaClaw reference server and type messages to a connected connector"),
  Command.withDescription(
    "Run the InstaClaw reference server and type messages to a connected connector. A line goes to conversation conv_1; " +
      "\"@conv_2 text\" to another direct chat; \"#grp_1 ada: text\" is said in group grp_1 by sender ada, and is mentioned " +
      "(header mentioned: true) when the text has the word @agent — group lines go only to a connector whose hello listed groups."
  )
)

// ---------------------------------------------------------------------------------------------
// connect
// ---------------------------------------------------------------------------------------------

/** The echo agent, printing each medium a message brings (never its bytes) before it answers. */
const echoShowingMedia = Agent.layer((request) =>
  Stream.unwrap(
    Effect.as(
      Effect.forEach(request.media ?? [], (media) => Console.log(`${mediaLine(media)} from ${request.senderId} in ${request.conversationId}`)),
      Stream.concat(echoReply(request.text), echoMedia(request))
    )
  )
)

const connect = Command.make(
  "connect",
  {
    dedupeFile: Flag.String("dedupe-file").pipe(
      Flag.withDescription("Keep answered message ids in this file, so messages redelivered after a restart are answered once"),
      Flag.optional
    )
  },
  ({ dedupeFile }) =>
    Layer.launch(
      InstaClaw.layer({}, { dedupeFile: Option.getOrUndefined(dedupeFile) }).pipe(Layer.provide(echoShowingMedia), withLogLevelFlag)
    )
).pipe(Command.withDescription("Run the connector with the echo agent, configured from INSTACLAW_* environment variables"))

// ---------------------------------------------------------------------------------------------

const insta = Command.make("insta-claw").pipe(
  Command.withDescription("InstaClaw connector: demo, reference server and standalone connector"),
  Command.withSubcommands([demo, serve, connect])
)

/** A signal is the normal way to stop `serve` and `connect`: after a clean shutdown, exit 0. */
const teardown = <E, A>(exit: Exit.Exit<E, A>, onExit: (code: number) => void) =>
  onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)

const reportFailure = (cause: Cause.Cause<unknown>) => {
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error) && (error.value as ConfigError)?._tag === "ConfigError") {
    return Console.error(`insta-claw: ${(error.value as ConfigError).message}`)
  }
  return Cause.hasInterruptsOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause))
}

insta.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.tapCause(reportFailure),
  Effect.provide(NodeServices),
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, teardown })
)

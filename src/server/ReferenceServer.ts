/**
 * A real InstaClaw server: the server side of docs/PROTOCOL.md, for the demo, for pointing a real
 * OpenClaw at, and for the project's own integration and end-to-end tests.
 *
 * It checks `x-app-key`/`x-app-secret` (401 when wrong), sends user messages as streamed Open
 * Responses events (role `user`), and assembles the client's streamed replies with the same
 * Protocol code the connector uses. Switches let a test misbehave on purpose: stop answering
 * pings, drop every connection, refuse auth, send a malformed frame.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, PubSub, Ref, Result, Schema, type Scope, Stream } from "effect"
import type { IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"
import type { EventProfile } from "../Config.ts"
import * as Protocol from "../Protocol.ts"

export interface ReferenceServerOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Default 8787; 0 picks a free port. */
  readonly port?: number | undefined
  /** Default `/user-ws/`. */
  readonly path?: string | undefined
  /** Accepted credentials. Default `demo` / `demo-secret`. */
  readonly clientId?: string | undefined
  readonly clientSecret?: string | undefined
  /** Largest delta of a user message, in UTF-16 code units. Default 50. */
  readonly deltaSize?: number | undefined
  /** Pause between the deltas of a user message. Default none. */
  readonly pacing?: Duration.Input | undefined
  /** Event profile for user messages. Default `full`. */
  readonly eventProfile?: EventProfile | undefined
}

/** Something the server saw or did. Subscribe with `ReferenceServer.subscribe`. */
export type ServerEvent =
  | { readonly _tag: "ClientConnected"; readonly clientId: string }
  | { readonly _tag: "ClientDisconnected"; readonly code: number }
  | { readonly _tag: "AuthRefused"; readonly status: number }
  | { readonly _tag: "Frame"; readonly json: string }
  | { readonly _tag: "ReplyDelta"; readonly conversationId: string; readonly responseId: string; readonly delta: string }
  | { readonly _tag: "ReplyCompleted"; readonly conversationId: string; readonly responseId: string; readonly text: string }
  | { readonly _tag: "ReplyFailed"; readonly conversationId: string; readonly responseId: string; readonly code: string; readonly message: string }
  | { readonly _tag: "Violation"; readonly violation: Protocol.Violation }

/** A user message could not be sent: no client stayed connected. `redeliver(responseId)` later. */
export class NoClientError extends Schema.TaggedError<NoClientError>()("NoClientError", {
  responseId: Schema.String
}) {
  override get message() {
    return "No connector is connected to the reference server"
  }
}

export interface UserMessage {
  readonly conversationId: string
  readonly text: string
  readonly senderId?: string | undefined
  readonly senderName?: string | undefined
}

export class ReferenceServer extends Context.Service<ReferenceServer, {
  /** `ws://host:port/path` — what to put in `INSTACLAW_WS_URL`. */
  readonly url: string
  readonly port: number
  /** Streams a user message to every connected client. Waits for a client if none is connected. */
  readonly sendUserMessage: (message: UserMessage) => Effect.Effect<{ readonly responseId: string }, NoClientError>
  /** Sends a previous user message again, frame for frame, as a server does after a reconnect. */
  readonly redeliver: (responseId: string) => Effect.Effect<void, NoClientError>
  /** Sends raw text to every client, e.g. a malformed frame. */
  readonly sendRaw: (text: string) => Effect.Effect<void>
  /** A subscription to server events from now on. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<ServerEvent>, never, Scope.Scope>
  /** All events from now on, as a stream. */
  readonly events: Stream.Stream<ServerEvent>
  /** Completed replies for one conversation, from now on. */
  readonly replies: (conversationId: string) => Stream.Stream<string>
  readonly clientCount: Effect.Effect<number>
  /** Switches for misbehaving on purpose. */
  readonly setAnswerPings: (answer: boolean) => Effect.Effect<void>
  readonly setRefuseAuth: (refuse: boolean) => Effect.Effect<void>
  /** Drops every connection: `terminate()` with no code, else a close frame with `code`. */
  readonly dropAll: (code?: number) => Effect.Effect<void>
}>()("insta-claw/ReferenceServer") {
  static readonly layer = (options: ReferenceServerOptions = {}): Layer.Layer<ReferenceServer> =>
    Layer.effect(ReferenceServer, make(options))
}

export const make = Effect.fnUntraced(function*(options: ReferenceServerOptions) {
  const host = options.host ?? "127.0.0.1"
  const path = options.path ?? "/user-ws/"
  const clientId = options.clientId ?? "demo"
  const clientSecret = options.clientSecret ?? "demo-secret"
  const deltaSize = options.deltaSize ?? 50
  const pacing = options.pacing === undefined ? undefined : Duration.fromInputUnsafe(options.pacing)

  const events = yield* Effect.acquireRelease(PubSub.unbounded<ServerEvent>(), PubSub.shutdown)
  const publish = (event: ServerEvent) => PubSub.publishUnsafe(events, event)
  const answerPings = yield* Ref.make(true)
  const refuseAuth = yield* Ref.make(false)
  const clients = new Set<WebSocket>()
  const clientJoined = yield* PubSub.unbounded<void>()
  const assembler = new Protocol.InboundAssembler(Protocol.defaultLimits)
  const clock = yield* Clock.Clock
  /** The frames of recent user messages, for `redeliver`. */
  const sentMessages = new Map<string, ReadonlyArray<string>>()

  const server = yield* Effect.acquireRelease(
    Effect.callback<WebSocketServer>((resume) => {
      const wss = new WebSocketServer({
        host,
        port: options.port ?? 8787,
        path,
        autoPong: false,
        verifyClient: (info, done) => {
          const ok = !Ref.getUnsafe(refuseAuth) &&
            info.req.headers["x-app-key"] === clientId &&
            info.req.headers["x-app-secret"] === clientSecret
          if (ok) return done(true)
          publish({ _tag: "AuthRefused", status: 401 })
          done(false, 401, "Unauthorized: check x-app-key and x-app-secret")
        }
      })
      wss.once("listening", () => resume(Effect.succeed(wss)))
      wss.once("error", (error) => resume(Effect.die(error)))
    }),
    (wss) =>
      Effect.callback<void>((resume) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resume(Effect.void))
      })
  )

  const onFrame = (json: string) => {
    publish({ _tag: "Frame", json })
    const decoded = Protocol.decodeFrame(json)
    if (Result.isFailure(decoded) || !Protocol.isMessageEnvelope(decoded.success)) return
    const envelope = decoded.success
    const outputs = assembler.push(envelope, clock.currentTimeMillisUnsafe())
    const event = envelope.data as Protocol.StreamingEvent & { readonly delta?: unknown; readonly response?: Protocol.ResponseSnapshot }
    const conversationId = envelope.headers.conversationId ?? ""
    const responseId = event.response_id ?? event.response?.id ?? ""
    if (outputs.length === 0 && event.type === "response.output_text.delta" && typeof event.delta === "string") {
      publish({ _tag: "ReplyDelta", conversationId, responseId, delta: event.delta })
    }
    for (const output of outputs) {
      if (output._tag === "Message") {
        publish({ _tag: "ReplyCompleted", conversationId, responseId: output.message.responseId, text: output.message.text })
      } else if (output._tag === "Violation" && output.violation.reason === "ResponseFailed") {
        const error = event.response?.error
        publish({ _tag: "ReplyFailed", conversationId, responseId, code: error?.code ?? "unknown", message: error?.message ?? "" })
      } else if (output._tag === "Violation") {
        publish({ _tag: "Violation", violation: output.violation })
      }
    }
  }

  server.on("connection", (socket: WebSocket, request: IncomingMessage) => {
    clients.add(socket)
    socket.on("message", (data, isBinary) => {
      if (!isBinary) onFrame(data.toString())
    })
    socket.on("ping", (data) => {
      if (Ref.getUnsafe(answerPings)) socket.pong(data)
    })
    socket.on("close", (code) => {
      clients.delete(socket)
      publish({ _tag: "ClientDisconnected", code })
    })
    socket.on("error", () => {})
    publish({ _tag: "ClientConnected", clientId: String(request.headers["x-app-key"]) })
    PubSub.publishUnsafe(clientJoined, undefined)
  })

  const port = (server.address() as AddressInfo).port
  const url = `ws://${host.includes(":") ? `[${host}]` : host}:${port}${path}`

  const sendToAll = (text: string) =>
    Effect.callback<void>((resume) => {
      const open = [...clients].filter((client) => client.readyState === WebSocket.OPEN)
      let waiting = open.length
      if (waiting === 0) return resume(Effect.void)
      for (const client of open) {
        client.send(text, () => {
          if (--waiting === 0) resume(Effect.void)
        })
      }
    })

  const awaitClient = Effect.gen(function*() {
    if (clients.size > 0) return
    const joined = yield* PubSub.subscribe(clientJoined)
    if (clients.size > 0) return
    yield* PubSub.take(joined)
  }).pipe(Effect.scoped)

  const sendUserMessage = Effect.fn("ReferenceServer.sendUserMessage")(function*(message: UserMessage) {
    yield* awaitClient
    const encoder = new Protocol.ReplyEncoder({
      conversationId: message.conversationId,
      token: yield* Protocol.randomToken,
      startedAt: yield* Clock.currentTimeMillis,
      model: "instaclaw-reference",
      profile: options.eventProfile ?? "full",
      deltaSize,
      role: "user"
    })
    const headers = {
      ...(message.senderId === undefined ? {} : { senderId: message.senderId }),
      ...(message.senderName === undefined ? {} : { senderName: message.senderName })
    }
    const withSender = (json: string) => {
      if (message.senderId === undefined && message.senderName === undefined) return json
      const envelope = JSON.parse(json)
      return JSON.stringify({ ...envelope, headers: { ...envelope.headers, ...headers } })
    }
    const frames = [...encoder.open(), ...encoder.text(message.text), ...encoder.complete()]
    if (frames.length === 0) return yield* Effect.die(new Error("Cannot send empty message"))
    const jsons = frames.map((frame) => withSender(frame.json))
    sentMessages.set(encoder.responseId, jsons)
    if (sentMessages.size > 100) sentMessages.delete(sentMessages.keys().next().value!)
    for (const [i, json] of jsons.entries()) {
      if (pacing !== undefined && frames[i]!.type === "response.output_text.delta") yield* Effect.sleep(pacing)
      if (clients.size === 0) return yield* new NoClientError({ responseId: encoder.responseId })
      yield* sendToAll(json)
    }
    return { responseId: encoder.responseId }
  })

  const redeliver = Effect.fn("ReferenceServer.redeliver")(function*(responseId: string) {
    yield* awaitClient
    for (const json of sentMessages.get(responseId) ?? []) yield* sendToAll(json)
  })

  const subscribe = PubSub.subscribe(events)

  return ReferenceServer.of({
    url,
    port,
    sendUserMessage,
    redeliver,
    sendRaw: sendToAll,
    subscribe,
    events: Stream.fromPubSub(events),
    replies: (conversationId) =>
      Stream.fromPubSub(events).pipe(
        Stream.filterMap((event) =>
          event._tag === "ReplyCompleted" && event.conversationId === conversationId
            ? Result.succeed(event.text)
            : Result.failVoid
        )
      ),
    clientCount: Effect.sync(() => clients.size),
    setAnswerPings: (answer) => Ref.set(answerPings, answer),
    setRefuseAuth: (refuse) => Ref.set(refuseAuth, refuse),
    dropAll: (code) =>
      Effect.sync(() => {
        for (const client of clients) {
          if (code === undefined) client.terminate()
          else client.close(code)
        }
      })
  })
})

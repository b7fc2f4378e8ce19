/**
 * A real InstaClaw server: the server side of docs/PROTOCOL.md, for the demo, for pointing a real
 * OpenClaw at, and for the project's own integration and end-to-end tests.
 *
 * It checks `x-app-key`/`x-app-secret` (401 when wrong), sends user messages as streamed Open
 * Responses events (role `user`), and assembles the client's streamed replies with the same
 * Protocol code the connector uses (`Replies.ts`). It speaks protocol v2 (§6–§7) to a client whose
 * first frame is a hello — answers it, keeps user messages until acknowledged, redelivers them on
 * the client's next link (`Mailbox.ts`) — and v1, exactly as before, to one that sends none.
 * It plays group chats (§8.2: a message's group headers) and media (§8.1) only to a client whose
 * hello agreed on `groups` / `media`; to any other, `sendUserMessage` refuses it
 * (`FeatureNotAgreedError`). On the same port it takes uploads and serves media back over HTTP
 * (`MediaStore.ts`), and its hello offers `upload.url` to a client that agreed on `media`.
 * Switches let a test misbehave on purpose: stop answering pings, drop every connection, drop a
 * link after a number of frames, refuse auth, send a malformed frame.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, FiberSet, Layer, PubSub, Ref, Result, type Scope, Stream } from "effect"
import type { IncomingHttpHeaders, IncomingMessage } from "node:http"
import { WebSocket, WebSocketServer } from "ws"
import type { EventProfile } from "../Config.ts"
import * as Protocol from "../Protocol.ts"
import { DropSwitch, Link, Mailbox } from "./Mailbox.ts"
import { NoClientError, type ServerEvent } from "./Events.ts"
import { serveMedia } from "./MediaStore.ts"
import { replyReader } from "./Replies.ts"
import { encodeUserMessage, FeatureNotAgreedError, featuresNeeded, type UserMessage } from "./UserMessage.ts"

export { FeatureNotAgreedError, type UserMessage } from "./UserMessage.ts"
export { NoClientError, type ServerEvent } from "./Events.ts"

/** The v2 features this server supports; a hello agrees on those the client lists too. */
export const SERVER_FEATURES: ReadonlyArray<Protocol.Feature> = ["ack", "media", "groups"]

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
  /** Several accepted clients, each its own identity; replaces `clientId`/`clientSecret`. The first is the default recipient. */
  readonly accounts?: ReadonlyArray<{ readonly clientId: string; readonly clientSecret: string }> | undefined
  /** Largest delta of a user message, in UTF-16 code units. Default 50. */
  readonly deltaSize?: number | undefined
  /** Pause between the deltas of a user message. Default none. */
  readonly pacing?: Duration.Input | undefined
  /** Event profile for user messages. Default `full`. */
  readonly eventProfile?: EventProfile | undefined
  /** 1: answer no hello, as a v1 server (hellos and acks are ignored). Default 2. */
  readonly protocol?: 1 | 2 | undefined
  /** The v2 features offered in the server's hello. Default `SERVER_FEATURES`. */
  readonly features?: ReadonlyArray<Protocol.Feature> | undefined
  /**
   * How long a new link of a client that spoke `ack` is held for its hello before it is taken
   * for v1 (a client that came back without v2). Default 10 seconds.
   */
  readonly helloTimeout?: Duration.Input | undefined
  /** The largest frame it reads, said in its hello (§8.1: larger media are uploaded). Default: not said (1 MiB). */
  readonly maxFrameBytes?: number | undefined
}

export class ReferenceServer extends Context.Service<ReferenceServer, {
  /** `ws://host:port/path` — what to put in `INSTACLAW_WS_URL`. */
  readonly url: string
  readonly port: number
  /** Where a connector uploads media (`http://host:port/upload`, offered in the hello). */
  readonly uploadUrl: string
  /** Keeps a medium and gives the URL this server serves it at, on its own port (for user messages). */
  readonly putMedia: (bytes: Uint8Array, mimeType: string) => Effect.Effect<string>
  /**
   * Streams a user message to the client's ready links. To a v1 client it waits for a link if
   * none is open; to a client that speaks `ack` it never waits: with no link ready, the message
   * is kept and goes out after the next link's hellos (`queued`). A message that needs a feature
   * (a group message: `groups`) the client's latest hello did not agree on is refused at once.
   */
  readonly sendUserMessage: (message: UserMessage) => Effect.Effect<{ readonly responseId: string; readonly queued: boolean }, NoClientError | FeatureNotAgreedError>
  /** Sends a recent user message again, frame for frame, as a v1 server does after a reconnect. */
  readonly redeliver: (responseId: string) => Effect.Effect<void>
  /** Sends raw text to every client, e.g. a malformed frame. */
  readonly sendRaw: (text: string) => Effect.Effect<void>
  /** A subscription to server events from now on. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<ServerEvent>, never, Scope.Scope>
  /** All events from now on, as a stream. */
  readonly events: Stream.Stream<ServerEvent>
  /** Completed replies for one conversation, from now on. */
  readonly replies: (conversationId: string) => Stream.Stream<string>
  readonly clientCount: Effect.Effect<number>
  /** User messages kept until their client acknowledges them, over all clients. */
  readonly unacknowledged: Effect.Effect<number>
  /** Switches for misbehaving on purpose. */
  readonly setAnswerPings: (answer: boolean) => Effect.Effect<void>
  readonly setRefuseAuth: (refuse: boolean) => Effect.Effect<void>
  /** Drops every connection: `terminate()` with no code, else a close frame with `code`. */
  readonly dropAll: (code?: number) => Effect.Effect<void>
  /**
   * Once: the first link to be written `frames` more user-message frames (hellos not counted)
   * is terminated right after the last of them is out, cutting a message mid-stream; 0 cuts it
   * at its next frame. `undefined` disarms.
   */
  readonly setDropAfterFrames: (frames: number | undefined) => Effect.Effect<void>
}>()("insta-claw/ReferenceServer") {
  static readonly layer = (options: ReferenceServerOptions = {}): Layer.Layer<ReferenceServer> =>
    Layer.effect(ReferenceServer, make(options))
}

export const make = Effect.fnUntraced(function*(options: ReferenceServerOptions) {
  const host = options.host ?? "127.0.0.1"
  const path = options.path ?? "/user-ws/"
  const accounts = options.accounts ?? [{ clientId: options.clientId ?? "demo", clientSecret: options.clientSecret ?? "demo-secret" }]
  const deltaSize = options.deltaSize ?? 50
  const pacing = options.pacing === undefined ? undefined : Duration.fromInputUnsafe(options.pacing)
  const helloTimeout = Duration.fromInputUnsafe(options.helloTimeout ?? "10 seconds")
  const offered = options.protocol === 1 ? undefined : options.features ?? SERVER_FEATURES

  const events = yield* Effect.acquireRelease(PubSub.unbounded<ServerEvent>(), PubSub.shutdown)
  const publish = (event: ServerEvent) => PubSub.publishUnsafe(events, event)
  const answerPings = yield* Ref.make(true)
  const refuseAuth = yield* Ref.make(false)
  const sockets = new Map<WebSocket, Link>()
  const linkJoined = yield* PubSub.unbounded<void>()
  const readReply = replyReader()
  const clock = yield* Clock.Clock
  const runFork = yield* FiberSet.makeRuntime<never>()
  const token = yield* Protocol.randomToken
  let hellosSent = 0
  /** Recent user messages, for `redeliver`. */
  const recent = new Map<string, { readonly clientId: string; readonly frames: ReadonlyArray<string>; readonly needs: ReadonlyArray<string> }>()

  const dropSwitch = new DropSwitch()
  const mailboxes = new Map(accounts.map(({ clientId }) => [clientId, new Mailbox(clientId, dropSwitch.write)]))
  const mailboxOf = (clientId: string | undefined) => {
    const mailbox = mailboxes.get(clientId ?? accounts[0]!.clientId)
    if (mailbox === undefined) throw new Error(`The reference server has no account ${clientId}`)
    return mailbox
  }
  let published = 0
  const countUnacknowledged = () => {
    let count = 0
    for (const mailbox of mailboxes.values()) count += mailbox.unacknowledged
    if (count !== published) publish({ _tag: "Unacknowledged", count: published = count })
    return count
  }

  /** The client id of an upgrade or upload whose `x-app-key`/`x-app-secret` are an account's. */
  const authorize = (headers: IncomingHttpHeaders) =>
    Ref.getUnsafe(refuseAuth) ? undefined : accounts.find((a) => a.clientId === headers["x-app-key"] && a.clientSecret === headers["x-app-secret"])?.clientId
  // The HTTP side of the port (uploads, media); the WebSocket server takes its upgrades.
  const http = yield* serveMedia({ host, port: options.port ?? 8787, authorize, onEvent: publish })
  const server = yield* Effect.acquireRelease(
    Effect.sync(() =>
      new WebSocketServer({
        server: http.server,
        path,
        autoPong: false,
        ...(options.maxFrameBytes === undefined ? {} : { maxPayload: options.maxFrameBytes }),
        verifyClient: (info, done) => {
          if (authorize(info.req.headers) !== undefined) return done(true)
          publish({ _tag: "AuthRefused", status: 401 })
          done(false, 401, "Unauthorized: check x-app-key and x-app-secret")
        }
      })
    ),
    (wss) =>
      Effect.callback<void>((resume) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resume(Effect.void))
      })
  )

  /** The link's first frame decides its protocol: a hello (to a v2 server) makes it v2. */
  const decide = (link: Link, mailbox: Mailbox, envelope: Protocol.Envelope | undefined) => {
    if (offered === undefined || envelope === undefined || !Protocol.isHelloEnvelope(envelope)) {
      mailbox.v1(link)
      return countUnacknowledged()
    }
    const features = offered.filter((feature) => envelope.data.features.includes(feature))
    const now = clock.currentTimeMillisUnsafe()
    if (!link.cut && link.socket.isOpen()) {
      const media = features.includes("media") ? { upload: { url: http.uploadUrl }, maxFrameBytes: options.maxFrameBytes } : {}
      link.socket.send(Protocol.helloFrame({ messageId: `msg_${now}_${token}h${(hellosSent++).toString(36)}`, timestamp: now, features, ...media }), () => {})
    }
    const redelivered = mailbox.hello(link, features)
    countUnacknowledged()
    publish({ _tag: "Hello", clientId: link.clientId, features })
    if (redelivered.length > 0) publish({ _tag: "Redelivered", clientId: link.clientId, responseIds: redelivered })
  }

  const onFrame = (link: Link, mailbox: Mailbox, json: string) => {
    publish({ _tag: "Frame", json })
    const decoded = Protocol.decodeFrame(json)
    const envelope = Result.isSuccess(decoded) ? decoded.success : undefined
    if (link.phase === "awaiting") decide(link, mailbox, envelope)
    if (envelope === undefined) return
    if (Protocol.isAckEnvelope(envelope)) {
      const settled = mailbox.ack(link, envelope.data.response_id)
      countUnacknowledged()
      publish({ _tag: "Acked", clientId: link.clientId, responseId: envelope.data.response_id, settled })
    } else if (Protocol.isMessageEnvelope(envelope)) {
      for (const event of readReply(envelope, clock.currentTimeMillisUnsafe())) publish(event)
    }
  }

  server.on("connection", (socket: WebSocket, request: IncomingMessage) => {
    const clientId = String(request.headers["x-app-key"])
    const mailbox = mailboxOf(clientId)
    const link = new Link(clientId, {
      isOpen: () => socket.readyState === WebSocket.OPEN,
      send: (text, done) => socket.send(text, () => done()),
      terminate: () => socket.terminate()
    })
    sockets.set(socket, link)
    mailbox.join(link)
    socket.on("message", (data, isBinary) => {
      if (!isBinary) onFrame(link, mailbox, data.toString())
    })
    socket.on("ping", (data) => {
      if (Ref.getUnsafe(answerPings)) socket.pong(data)
    })
    socket.on("close", (code) => {
      sockets.delete(socket)
      mailbox.leave(link)
      publish({ _tag: "ClientDisconnected", code })
    })
    socket.on("error", () => {})
    // A client that spoke ack gets nothing on a new link before its hello; one that came back
    // without v2 must not wait for ever.
    if (mailbox.speaksAck) {
      runFork(Effect.sleep(helloTimeout).pipe(Effect.andThen(Effect.sync(() => {
        if (link.phase !== "awaiting" || link.closed) return
        mailbox.v1(link)
        countUnacknowledged()
      }))))
    }
    publish({ _tag: "ClientConnected", clientId })
    PubSub.publishUnsafe(linkJoined, undefined)
  })

  const port = http.port
  const url = `ws://${host.includes(":") ? `[${host}]` : host}:${port}${path}`

  const sendToAll = (text: string) =>
    Effect.callback<void>((resume) => {
      const open = [...sockets.keys()].filter((client) => client.readyState === WebSocket.OPEN)
      let waiting = open.length
      if (waiting === 0) return resume(Effect.void)
      for (const client of open) {
        client.send(text, () => {
          if (--waiting === 0) resume(Effect.void)
        })
      }
    })

  /** Waits until the client has an open link (v1: a message waits for its client). */
  const awaitLink = (mailbox: Mailbox) =>
    Effect.gen(function*() {
      if (mailbox.openLinks > 0) return
      const joined = yield* PubSub.subscribe(linkJoined)
      while (mailbox.openLinks === 0) yield* PubSub.take(joined)
    }).pipe(Effect.scoped)

  const sendUserMessage = Effect.fn("ReferenceServer.sendUserMessage")(function*(message: UserMessage) {
    const mailbox = mailboxOf(message.clientId)
    const needs = featuresNeeded(message)
    const missing = needs.find((feature) => !mailbox.agreed.includes(feature))
    if (missing !== undefined) return yield* new FeatureNotAgreedError({ clientId: mailbox.clientId, feature: missing })
    if (!mailbox.speaksAck) yield* awaitLink(mailbox)
    const { frames, responseId } = encodeUserMessage(message, {
      token: yield* Protocol.randomToken,
      startedAt: yield* Clock.currentTimeMillis,
      profile: options.eventProfile ?? "full",
      deltaSize
    })
    if (frames.length === 0) return yield* Effect.die(new Error("Cannot send empty message"))
    const jsons = frames.map((frame) => frame.json)
    recent.set(responseId, { clientId: mailbox.clientId, frames: jsons, needs })
    if (recent.size > 100) recent.delete(recent.keys().next().value!)
    const entry = mailbox.add(responseId, jsons, needs)
    const queued = !mailbox.hasReadyLink
    countUnacknowledged()
    // Unpaced, a message goes out back to back, as a server that has it whole sends it: messages
    // sent at once do not interleave event by event.
    if (pacing === undefined && (mailbox.speaksAck || mailbox.openLinks > 0)) {
      return yield* Effect.as(Effect.callback<void>((resume) => mailbox.releaseAll(entry, () => resume(Effect.void))), { responseId, queued })
    }
    for (const frame of frames) {
      if (pacing !== undefined && frame.type === "response.output_text.delta") yield* Effect.sleep(pacing)
      if (!mailbox.speaksAck && mailbox.openLinks === 0) {
        mailbox.abandon(entry)
        countUnacknowledged()
        return yield* new NoClientError({ responseId })
      }
      yield* Effect.callback<void>((resume) => mailbox.release(entry, () => resume(Effect.void)))
    }
    return { responseId, queued }
  })

  const redeliver = Effect.fn("ReferenceServer.redeliver")(function*(responseId: string) {
    const message = recent.get(responseId)
    if (message === undefined) return
    const mailbox = mailboxOf(message.clientId)
    yield* awaitLink(mailbox)
    for (const json of message.frames) yield* Effect.callback<void>((resume) => mailbox.broadcast(json, () => resume(Effect.void), message.needs))
  })

  return ReferenceServer.of({
    url,
    port,
    uploadUrl: http.uploadUrl,
    putMedia: (bytes, mimeType) => Effect.sync(() => http.put(bytes, mimeType)),
    sendUserMessage,
    redeliver,
    sendRaw: sendToAll,
    subscribe: PubSub.subscribe(events),
    events: Stream.fromPubSub(events),
    replies: (conversationId) =>
      Stream.fromPubSub(events).pipe(
        Stream.filterMap((event) =>
          event._tag === "ReplyCompleted" && event.conversationId === conversationId
            ? Result.succeed(event.text)
            : Result.failVoid
        )
      ),
    clientCount: Effect.sync(() => sockets.size),
    unacknowledged: Effect.sync(countUnacknowledged),
    setAnswerPings: (answer) => Ref.set(answerPings, answer),
    setRefuseAuth: (refuse) => Ref.set(refuseAuth, refuse),
    dropAll: (code) =>
      Effect.sync(() => {
        for (const client of sockets.keys()) {
          if (code === undefined) client.terminate()
          else client.close(code)
        }
      }),
    setDropAfterFrames: (frames) => Effect.sync(() => dropSwitch.arm(frames, sockets.values()))
  })
})

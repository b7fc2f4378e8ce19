/**
 * A plain `ws` client for the reference server's protocol tests: it sends what the test says
 * (a hello, acks, reply frames) and queues every text frame it receives. Scoped: the socket is
 * terminated at the end of the scope if still open.
 */
import { Effect, Queue } from "effect"
import { WebSocket } from "ws"
import * as Protocol from "../../src/Protocol.ts"

export interface PlainClient {
  readonly socket: WebSocket
  /** Text frames received, in order. */
  readonly frames: Queue.Queue<string>
  /** Resolves with the close code once the socket closed. */
  readonly closed: Promise<number>
  readonly send: (text: string) => Effect.Effect<void>
  /** Sends a v2 hello listing `features`. */
  readonly hello: (features: ReadonlyArray<string>) => Effect.Effect<void>
  /** Acknowledges the user message `responseId`. */
  readonly ack: (responseId: string, conversationId?: string) => Effect.Effect<void>
  /** The next `n` frames received. */
  readonly take: (n: number) => Effect.Effect<Array<string>>
  /** Closes with 1000 and waits until closed. */
  readonly close: Effect.Effect<void>
}

let counter = 0
const nextId = () => `msg_1_test${(counter++).toString(36)}`

/** Connects to `url` as `clientId`; sends a hello first when `hello` lists features. */
export const plainClient = (url: string, options: {
  readonly clientId?: string
  readonly clientSecret?: string
  readonly hello?: ReadonlyArray<string>
} = {}) =>
  Effect.acquireRelease(
    Effect.callback<PlainClient>((resume) => {
      const frames = Effect.runSync(Queue.unbounded<string>())
      const socket = new WebSocket(url, {
        headers: { "x-app-key": options.clientId ?? "demo", "x-app-secret": options.clientSecret ?? "demo-secret" }
      })
      const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)))
      socket.on("message", (data, isBinary) => {
        if (!isBinary) Queue.offerUnsafe(frames, data.toString())
      })
      const send = (text: string) =>
        Effect.callback<void>((done) => socket.send(text, () => done(Effect.void)))
      const client: PlainClient = {
        socket,
        frames,
        closed,
        send,
        hello: (features) => send(Protocol.helloFrame({ messageId: nextId(), timestamp: 1, features })),
        ack: (responseId, conversationId = "c") =>
          send(Protocol.ackFrame({ messageId: nextId(), timestamp: 1, conversationId, responseId })),
        take: (n) => Effect.forEach(Array.from({ length: n }), () => Queue.take(frames)),
        close: Effect.suspend(() => {
          socket.close(1000)
          return Effect.promise(() => closed)
        }).pipe(Effect.asVoid)
      }
      socket.once("open", () => {
        if (options.hello === undefined) return resume(Effect.succeed(client))
        resume(Effect.as(client.hello(options.hello), client))
      })
      socket.once("error", (error) => resume(Effect.die(error)))
    }),
    ({ closed, socket }) =>
      Effect.promise(() => {
        if (socket.readyState !== WebSocket.CLOSED) socket.terminate()
        return closed
      })
  )

/** The decoded envelope of a frame (a test failure if it does not decode). */
export const envelopeOf = (frame: string): Protocol.Envelope => {
  const decoded = Protocol.decodeFrame(frame)
  if (decoded._tag === "Failure") throw new Error(`not an envelope: ${frame}`)
  return decoded.success
}

/** The envelope kind and, for messages, the event type and response id of each frame. */
export const describeFrames = (frames: ReadonlyArray<string>) =>
  frames.map((frame) => {
    const envelope = envelopeOf(frame)
    return Protocol.isMessageEnvelope(envelope) ? `${envelope.data.type} ${envelope.data.response_id}` : envelope.type
  })

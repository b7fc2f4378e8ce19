/**
 * Protocol v2's promise (docs/PROTOCOL.md §7): whichever frame a link drops at, every user message
 * is answered exactly once. A v2 server model, over the fake dialer and under `TestClock`, plays
 * the server: it answers the connector's hello, sends each user message not yet acknowledged —
 * again, byte for byte, on every new link — and reads the replies and acks. The link is cut at
 * random frames, inbound or outbound (a reply's event, a confirmation's wake, an ack, a hello):
 * including between a message's completion and its ack.
 *
 * "Answered" counts distinct reply response ids per user message: a reply cut off by a drop is
 * re-sent with the same ids (§5), which a server dedupes; a second answer would have new ones.
 */
import { assert, describe, it } from "vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { Agent } from "../src/Agent.ts"
import { ConnectorConfig } from "../src/Config.ts"
import { WebSocketDialer } from "../src/Connection.ts"
import * as InstaClaw from "../src/InstaClaw.ts"
import { LogSink } from "../src/Logger.ts"
import { FakeSocket } from "../src/testing/FakeDialer.ts"
import { userMessageFrames } from "../src/testing/Frames.ts"
import * as Wire from "../src/Wire.ts"

interface UserMessage {
  readonly text: string
  readonly responseId: string
  /** Built once: a redelivery is the same frames. */
  readonly frames: ReadonlyArray<string>
}

/** The server's side of one link. */
class ServerSocket extends FakeSocket {
  heardHello = false
  saidHello = false
  readonly delivered = new Set<number>()
  private readonly server: V2Server
  constructor(url: string, options: ConstructorParameters<typeof FakeSocket>[1], server: V2Server) {
    super(url, options)
    this.server = server
  }
  override sendText(data: string | Uint8Array, done: (error?: Error) => void) {
    if (this.readyState === 1 && this.server.cutHere()) {
      this.serverClose(1006)
      return done(new Error("the link dropped"))
    }
    super.sendText(data, done)
    if (this.readyState === 1) this.server.read(this, this.sent.at(-1)!)
  }
}

/** A v2 server: keeps every message until acknowledged, and sends it again on the next link. */
class V2Server {
  frames = 0
  readonly acked = new Set<string>()
  /** Reply response ids seen for each user message's text. */
  readonly answers = new Map<string, Set<string>>()
  readonly sockets: Array<ServerSocket> = []
  readonly messages: ReadonlyArray<UserMessage>
  private readonly cuts: ReadonlySet<number>
  constructor(messages: ReadonlyArray<UserMessage>, cuts: ReadonlySet<number>) {
    this.messages = messages
    this.cuts = cuts
  }

  /** Counts a frame either way; true when the link is cut at it (the frame is lost). */
  cutHere(): boolean {
    return this.cuts.has(++this.frames)
  }

  readonly dialer = Layer.succeed(WebSocketDialer, {
    dial: (url, options) => {
      const socket = new ServerSocket(url, options, this)
      this.sockets.push(socket)
      socket.open()
      return socket
    }
  })

  /** A frame the connector wrote. */
  read(socket: ServerSocket, json: string) {
    const envelope = JSON.parse(json)
    if (envelope.type === "hello") socket.heardHello = true
    if (envelope.type === "ack") this.acked.add(JSON.parse(envelope.data).response_id)
    if (envelope.type !== "message") return
    const event = JSON.parse(envelope.data)
    if (event.type !== "response.completed") return
    const text: string = event.response.output[0].content[0].text
    const seen = this.answers.get(text) ?? new Set<string>()
    seen.add(event.response.id)
    this.answers.set(text, seen)
  }

  /** What the server does on the open link: its hello, then every message not yet acknowledged. */
  pump() {
    const socket = this.sockets.at(-1)
    if (socket === undefined || socket.readyState !== 1 || !socket.heardHello) return
    const send = (frame: string) => {
      if (socket.readyState !== 1) return false
      if (this.cutHere()) {
        socket.serverClose(1006)
        return false
      }
      socket.receive(frame)
      return true
    }
    if (!socket.saidHello) {
      socket.saidHello = true
      if (!send(Wire.helloFrame({ messageId: `msg_1_hello${this.sockets.length}`, timestamp: 1, features: ["ack"] }))) return
    }
    for (const [i, message] of this.messages.entries()) {
      if (this.acked.has(message.responseId) || socket.delivered.has(i)) continue
      socket.delivered.add(i)
      for (const frame of message.frames) if (!send(frame)) return
    }
  }

  done() {
    return this.messages.every((m) => this.acked.has(m.responseId) && this.answers.get(m.text)?.size === 1)
  }
}

type ConversationInput = typeof conversationArb extends fc.Arbitrary<infer T> ? T : never

const conversationArb = fc.record({
  messages: fc.array(
    fc.record({ conversation: fc.integer({ min: 0, max: 2 }), pieces: fc.integer({ min: 1, max: 3 }) }),
    { minLength: 1, maxLength: 8 }
  ),
  /** Where the link is cut: frame numbers counted both ways; one or two drops. */
  cuts: fc.uniqueArray(fc.integer({ min: 1, max: 120 }), { minLength: 1, maxLength: 2 })
})

const run = (input: ConversationInput) =>
  Effect.gen(function*() {
    const messages: Array<UserMessage> = input.messages.map((m, i) => {
      const text = `message ${i} in conversation ${m.conversation}`
      const size = Math.ceil(text.length / m.pieces)
      const pieces = Array.from({ length: m.pieces }, (_, p) => text.slice(p * size, (p + 1) * size)).filter((p) => p !== "")
      const responseId = `resp_user_${i}`
      return { text, responseId, frames: userMessageFrames({ conversationId: `conv_${m.conversation}`, responseId, pieces }) }
    })
    const server = new V2Server(messages, new Set(input.cuts))
    const layer = InstaClaw.layerWithConfig.pipe(
      Layer.provide(server.dialer),
      Layer.provide(Agent.echo),
      Layer.provideMerge(ConnectorConfig.layerFromInput({ url: "ws://127.0.0.1:1/user-ws/", clientId: "demo", clientSecret: "demo-secret" })),
      Layer.provide(Layer.succeed(LogSink, { info: () => {}, warn: () => {}, error: () => {} }))
    )
    const scope = yield* Scope.make()
    yield* Layer.buildWithScope(layer, scope).pipe(Effect.map(Context.empty))
    for (let step = 0; step < 600 && !server.done(); step++) {
      server.pump()
      for (let i = 0; i < 4; i++) yield* Effect.yieldNow
      yield* TestClock.adjust("50 millis")
    }
    yield* Scope.close(scope, Exit.void)
    const answered = messages.map((m) => server.answers.get(m.text)?.size ?? 0)
    assert.deepStrictEqual(answered, messages.map(() => 1), `answers per message; cuts ${input.cuts}, links ${server.sockets.length}`)
    assert.deepStrictEqual(messages.filter((m) => !server.acked.has(m.responseId)).map((m) => m.text), [], "every message acknowledged")
  })

describe("delivery across drops (protocol v2)", () => {
  it("a random conversation, the link cut at random frames: every message answered exactly once", () =>
    fc.assert(
      fc.asyncProperty(conversationArb, (input) => Effect.runPromise(run(input).pipe(Effect.provide(TestClock.layer())))),
      { numRuns: 60 }
    ), 60_000)
})

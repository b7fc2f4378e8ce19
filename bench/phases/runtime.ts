/**
 * Runtime — the floor under the echo figures: what the connector's own machinery costs per
 * message, beside the same protocol work done in plain JavaScript. One process, no sockets, no
 * other process to share the machine with: both sides get the same user messages as frames and
 * answer each with an echo reply.
 *
 * - connector: the whole `Connector` (`InstaClaw.layerWithConfig`, echo agent) over the fake
 *   dialer of `insta-claw-connector/testing`, whose socket answers every ping at once. Everything
 *   runs: the intake, the assembler and its dedupe gate, the lanes, the agent's stream, the reply's
 *   encoder and journal, the confirmation, the acks queue, the metrics and the status — on
 *   Effect's fiber runtime.
 * - plain: the same decoding (`Wire.decodeFrame`), the same assembler, and the same encoder
 *   (`ReplyEncoder`, a delta per word as the echo agent writes), called directly: no fibers, no
 *   confirmation, no lanes, no acks, no log calls.
 *
 * CPU time per message (`process.cpuUsage`, median of the runs, the two sides alternated). The
 * difference is the price of the runtime and of the delivery guarantees built on it; what part is
 * which, a CPU profile tells (docs/PERFORMANCE.md).
 */
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import { Agent } from "../../src/Agent.ts"
import { ConnectorConfig } from "../../src/Config.ts"
import { Connector } from "../../src/Connector.ts"
import * as InstaClaw from "../../src/InstaClaw.ts"
import { LogSink } from "../../src/Logger.ts"
import * as Protocol from "../../src/Protocol.ts"
import { fakeDialer } from "../../src/testing/FakeDialer.ts"
import * as Wire from "../../src/Wire.ts"
import { fmt, type PhaseOptions, type PhaseResult, times } from "../report.ts"
import { median, quietSink } from "../support.ts"
import { userMessageFrames } from "../userMessage.ts"

const CONVERSATIONS = 10
const TEXT = "twenty chars, hello!"
/** Messages handed over before waiting for their replies: a window, as the echo phase keeps. */
const WINDOW = 200

const words = (text: string) => text.match(/\S+\s*|\s+/g) ?? []

/** The plain side: decode, assemble, encode the echo reply; the frames' JSON is the output. */
const plainRun = (frames: ReadonlyArray<string>): number => {
  const assembler = new Protocol.InboundAssembler(Protocol.defaultLimits)
  let replies = 0
  let bytes = 0
  let now = Date.now()
  for (const json of frames) {
    const decoded = Wire.decodeFrame(json)
    if (decoded._tag !== "Success" || !Wire.isMessageEnvelope(decoded.success)) continue
    for (const output of assembler.push(decoded.success, now)) {
      if (output._tag !== "Message") continue
      const { message } = output
      const encoder = new Protocol.ReplyEncoder({
        conversationId: message.conversationId,
        token: `p${replies}`,
        startedAt: now++,
        model: "openclaw",
        profile: "full",
        deltaSize: 64
      })
      const out = [...encoder.begin()]
      for (const word of words(message.text)) out.push(...encoder.text(word))
      out.push(...encoder.complete())
      for (const frame of out) bytes += frame.json.length
      replies++
    }
  }
  return bytes > 0 ? replies : 0
}

/** The connector side: the whole program over a fake socket; resolves once every message is answered. */
const connectorRun = async (messages: ReadonlyArray<ReadonlyArray<string>>): Promise<number> => {
  const dial = fakeDialer((socket) => socket.open())
  const layer = InstaClaw.layerWithConfig.pipe(
    Layer.provide(Agent.echo),
    Layer.provide(dial.layer),
    Layer.provideMerge(ConnectorConfig.layerFromInput({ clientId: "demo", clientSecret: "demo-secret", url: "ws://127.0.0.1:1/ws" })),
    Layer.provide(Layer.succeed(LogSink, quietSink))
  )
  const scope = Effect.runSync(Scope.make())
  try {
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    const connector = Context.get(context, Connector)
    await Effect.runPromise(connector.statusChanges.pipe(Stream.filter((s) => s.state === "connected"), Stream.runHead))
    const socket = dial.sockets[0]!
    let answered = 0
    /** Counts the replies written since the last look, and lets their frames go. */
    const count = () => {
      for (const json of socket.sent) if (json.includes("response.completed")) answered++
      socket.sent.length = 0
    }
    let handed = 0
    while (answered < messages.length) {
      while (handed < messages.length && handed - answered < WINDOW) {
        for (const json of messages[handed]!) socket.receive(json)
        handed++
      }
      await new Promise((resolve) => setImmediate(resolve))
      count()
    }
    return answered
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const cpuMicros = () => {
  const { system, user } = process.cpuUsage()
  return system + user
}

export const runtime = async (count: number, { runs }: PhaseOptions): Promise<PhaseResult> => {
  const messages = Array.from({ length: count }, (_, i) => userMessageFrames(i, `conv_${i % CONVERSATIONS}`, TEXT))
  const flat = messages.flat()
  const connector: Array<number> = []
  const plain: Array<number> = []
  // A first run of each, unmeasured: both sides' code optimised before the figures.
  await connectorRun(messages.slice(0, Math.min(2000, count)))
  plainRun(flat.slice(0, Math.min(2000, count) * messages[0]!.length))
  for (let run = 0; run < runs; run++) {
    const before = cpuMicros()
    const answered = await connectorRun(messages)
    connector.push((cpuMicros() - before) / answered)
    const start = cpuMicros()
    const replies = plainRun(flat)
    plain.push((cpuMicros() - start) / replies)
  }
  const c = median(connector)
  const p = median(plain)
  return {
    json: { runtime: { messages: count, connectorMicrosPerMessage: c, plainMicrosPerMessage: p, ratio: c / p, runs: { connector, plain } } },
    rows: [
      [`runtime floor, ${fmt(count)} echoes in process: CPU per message (µs)`, fmt(c, 1), fmt(p, 1), times(c, p)],
      ["runtime floor: the machinery's share (connector − plain) per message (µs)", fmt(c - p, 1), "—", "—"]
    ]
  }
}

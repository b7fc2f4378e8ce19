/**
 * Inbound throughput (decode + assembly, in process): whole user messages, already encoded as
 * envelopes, pushed through the connector's decoder and assembler, against a hand-written
 * baseline that parses and checks the fields the connector reads and assembles the deltas.
 * Messages/s, median of the runs.
 */
import { Effect } from "effect"
import { performance } from "node:perf_hooks"
import * as Protocol from "../../src/Protocol.ts"
import { fmt, type PhaseOptions, type PhaseResult, times } from "../report.ts"
import { median } from "../support.ts"

/** The hand-written inbound path: the fields the connector uses, checked; deltas assembled; no bounds, no dedupe. */
const checkedBaseline = (frames: ReadonlyArray<string>): number => {
  const open = new Map<string, { text: string; next: number }>()
  let completed = 0
  for (const json of frames) {
    const envelope = JSON.parse(json)
    if (envelope.type !== "message" || typeof envelope.data !== "string" || typeof envelope.headers?.messageId !== "string" || typeof envelope.headers.conversationId !== "string") continue
    const event = JSON.parse(envelope.data)
    const responseId = event.response_id
    if (typeof event.type !== "string" || typeof responseId !== "string" || typeof event.sequence_number !== "number") continue
    let state = open.get(responseId)
    if (state === undefined) {
      if (event.type !== "response.created") continue
      state = { text: "", next: 0 }
      open.set(responseId, state)
    }
    if (event.sequence_number !== state.next) continue
    state.next++
    if (event.type === "response.output_text.delta" && typeof event.delta === "string") state.text += event.delta
    else if (event.type === "response.completed") {
      open.delete(responseId)
      if (state.text !== "") completed++
    }
  }
  return completed
}

/** `messages` user messages in the full profile, 50 conversations, as the server would send them. */
const userFrames = (messages: number): Array<string> => {
  const frames: Array<string> = []
  for (let i = 0; i < messages; i++) {
    const encoder = new Protocol.ReplyEncoder({ conversationId: `conv_${i % 50}`, token: `tok${i}`, startedAt: Date.now(), model: "m", profile: "full", deltaSize: 50, role: "user" })
    for (const frame of [...encoder.open(), ...encoder.text(`User message number ${i}: ${"lorem ipsum dolor sit amet ".repeat(8)}`), ...encoder.complete()]) frames.push(frame.json)
  }
  return frames
}

/** The connector's path: decode each frame, push it to a fresh assembler; returns the messages delivered. */
const connectorPath = (protocol: ReturnType<typeof Protocol.make>, frames: ReadonlyArray<string>): number => {
  const assembler = Effect.runSync(protocol.makeAssembler)
  let delivered = 0
  for (const json of frames) {
    const decoded = Protocol.decodeFrame(json)
    if (decoded._tag === "Success" && Protocol.isMessageEnvelope(decoded.success)) {
      for (const output of assembler.push(decoded.success, 0)) if (output._tag === "Message") delivered++
    }
  }
  return delivered
}

export const inbound = async (messages: number, { runs }: PhaseOptions): Promise<PhaseResult> => {
  const protocol = Protocol.make()
  const frames = userFrames(messages)
  const connectorRates: Array<number> = []
  const baselineRates: Array<number> = []
  for (let run = 0; run < runs; run++) {
    let start = performance.now()
    const delivered = connectorPath(protocol, frames)
    if (delivered !== messages) throw new Error(`assembled ${delivered} of ${messages}`)
    connectorRates.push(messages / ((performance.now() - start) / 1000))

    start = performance.now()
    if (checkedBaseline(frames) !== messages) throw new Error("baseline miscounted")
    baselineRates.push(messages / ((performance.now() - start) / 1000))
  }
  const c = median(connectorRates)
  const b = median(baselineRates)
  return {
    json: { inbound: { messages, framesPerMessage: frames.length / messages, connectorMessagesPerSecond: c, baselineMessagesPerSecond: b, ratio: c / b } },
    rows: [["inbound: messages/s (target ≥ 0.8×)", fmt(c), fmt(b), times(c, b)]]
  }
}

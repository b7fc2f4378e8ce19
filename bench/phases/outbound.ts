/**
 * Outbound throughput: the connector's `send` of whole replies (the echo agent's text, 64
 * conversations at a time) to the reference server, in process, against the baseline — a bare
 * `ws` client writing the same hand-built envelopes. Replies/s and events/s, median of the runs.
 */
import { Effect } from "effect"
import { performance } from "node:perf_hooks"
import { Agent } from "../../src/Agent.ts"
import { fmt, type PhaseOptions, type PhaseResult, times } from "../report.ts"
import { connectorHarness, median, serverHarness } from "../support.ts"
import { baselineFrames, openBaseline } from "./baseline.ts"

const isCompleted = (event: { readonly _tag: string }) => event._tag === "ReplyCompleted"

export const outbound = async (label: string, text: string, replies: number, { runs }: PhaseOptions): Promise<PhaseResult> => {
  const harness = await serverHarness()
  const framesPerReply = baselineFrames("c", text, 50).length
  const connectorRates: Array<number> = []
  const baselineRates: Array<number> = []
  const { close, connector } = await connectorHarness(harness.server.url, Agent.echo)
  const baseline = await openBaseline(harness.server.url)
  for (let run = 0; run < runs; run++) {
    let done = harness.count(isCompleted, replies)
    let start = performance.now()
    await Effect.runPromise(
      Effect.forEach(Array.from({ length: replies }, (_, i) => i), (i) => connector.send(`conv_${i % 64}`, text), { concurrency: 64, discard: true })
    )
    await done
    connectorRates.push(replies / ((performance.now() - start) / 1000))

    done = harness.count(isCompleted, replies)
    start = performance.now()
    for (let i = 0; i < replies; i++) for (const frame of baselineFrames(`conv_${i % 64}`, text, 50)) baseline.send(frame)
    await done
    baselineRates.push(replies / ((performance.now() - start) / 1000))
  }
  baseline.close()
  await close()
  await harness.close()
  const c = median(connectorRates)
  const b = median(baselineRates)
  return {
    json: { [`outbound_${label}`]: { replies, framesPerReply, connectorRepliesPerSecond: c, baselineRepliesPerSecond: b, ratio: c / b } },
    rows: [
      [`outbound ${label}: replies/s`, fmt(c), fmt(b), times(c, b)],
      [`outbound ${label}: events/s`, fmt(c * framesPerReply), fmt(b * framesPerReply), times(c, b)]
    ]
  }
}

/**
 * Latency, in process against the reference server: the user message's last event → the first
 * reply delta on the wire. The connector (echo agent) against the baseline — a bare `ws` client
 * that answers each completed message with a hand-built reply at once — in alternating blocks,
 * 2 000 messages in all; p50 and p99, and what the connector adds to each.
 */
import { performance } from "node:perf_hooks"
import { Agent } from "../../src/Agent.ts"
import { fmt, type PhaseResult } from "../report.ts"
import { connectorHarness, percentile, serverHarness } from "../support.ts"
import { baselineFrames, openBaseline } from "./baseline.ts"

type Harness = Awaited<ReturnType<typeof serverHarness>>

/** Sends `count` messages one after the other (fresh conversations); the delay to each first delta. */
const measurer = (harness: Harness) => {
  let next = 0
  return async (count: number) => {
    const samples: Array<number> = []
    for (let i = 0; i < count; i++) {
      const conversationId = `lat_${next++}`
      const firstDelta = new Promise<number>((resolve) => {
        const off = harness.on((event) => {
          if (event._tag === "ReplyDelta" && event.conversationId === conversationId) {
            off()
            resolve(performance.now())
          }
        })
      })
      await harness.run(harness.server.sendUserMessage({ conversationId, text: "How fast is the first delta?" }))
      const sentAt = performance.now()
      samples.push((await firstDelta) - sentAt)
    }
    // The first tenth of each block warms up after the (re)connect.
    return samples.slice(Math.floor(count / 10))
  }
}

export const latency = async (messages: number): Promise<PhaseResult> => {
  const harness = await serverHarness()
  const measure = measurer(harness)
  const measureConnector = async (count: number) => {
    const { close } = await connectorHarness(harness.server.url, Agent.echo)
    const samples = await measure(count)
    await close()
    return samples
  }
  // Baseline: a bare client that answers each completed message with a hand-built reply at once.
  const measureBaseline = async (count: number) => {
    const baseline = await openBaseline(harness.server.url)
    baseline.on("message", (data) => {
      const envelope = JSON.parse(String(data))
      const event = JSON.parse(envelope.data)
      if (event.type !== "response.completed") return
      for (const frame of baselineFrames(envelope.headers.conversationId, "How fast is the first delta?", 50)) baseline.send(frame)
    })
    const samples = await measure(count)
    baseline.close()
    return samples
  }
  // Blocks of each, alternated, so both see the same moments of this machine (its noise is most
  // of a p99 measured on one side alone).
  const blocks = 4
  const connectorSamples: Array<number> = []
  const baselineSamples: Array<number> = []
  for (let block = 0; block < blocks; block++) {
    const size = Math.ceil(messages / blocks)
    if (block % 2 === 0) {
      connectorSamples.push(...(await measureConnector(size)))
      baselineSamples.push(...(await measureBaseline(size)))
    } else {
      baselineSamples.push(...(await measureBaseline(size)))
      connectorSamples.push(...(await measureConnector(size)))
    }
  }
  await harness.close()
  const stats = (samples: Array<number>) => ({ p50: percentile(samples, 50), p99: percentile(samples, 99) })
  const c = stats(connectorSamples)
  const b = stats(baselineSamples)
  return {
    json: { latency: { messages, connectorMs: c, baselineMs: b, addedP50Ms: c.p50 - b.p50, addedP99Ms: c.p99 - b.p99 } },
    rows: [
      ["latency p50 (ms)", fmt(c.p50, 3), fmt(b.p50, 3), `+${fmt(c.p50 - b.p50, 3)} ms`],
      ["latency p99 (ms)", fmt(c.p99, 3), fmt(b.p99, 3), `+${fmt(c.p99 - b.p99, 3)} ms`]
    ]
  }
}

/**
 * Scale, in process against the reference server: the same number of round trips (echo agent)
 * over 1, 10 and 100 concurrent conversations; messages/s and the heap at the end of each. No
 * baseline: the sizes are compared with each other.
 */
import { performance } from "node:perf_hooks"
import { Agent } from "../../src/Agent.ts"
import { fmt, type PhaseResult, type Row } from "../report.ts"
import { connectorHarness, gc, heapMiB, roundTrips, serverHarness } from "../support.ts"

export const scale = async (messages: number): Promise<PhaseResult> => {
  const harness = await serverHarness()
  const { close } = await connectorHarness(harness.server.url, Agent.echo, { maxConcurrentConversations: 100 })
  const out: Record<string, unknown> = {}
  const rows: Array<Row> = []
  for (const conversations of [1, 10, 100]) {
    gc()
    const before = heapMiB()
    const start = performance.now()
    await roundTrips(harness, messages, conversations)
    const rate = messages / ((performance.now() - start) / 1000)
    const heapPeak = heapMiB()
    out[conversations] = { messagesPerSecond: rate, heapMiB: heapPeak, heapDeltaMiB: heapPeak - before }
    rows.push([`scale ${conversations} conversations: msg/s, heap (MiB)`, `${fmt(rate)}, ${fmt(heapPeak, 1)}`, "—", "—"])
  }
  await close()
  await harness.close()
  return { json: { scale: { messages, byConversations: out } }, rows }
}

/**
 * Memory over a long-lived connection, in process against the reference server (echo agent, 50
 * conversations): the heap after 1 000 round trips, after 20 000 (the dedupe memory is full by
 * then) and after all of them — from 20 000 on nothing may grow — and the heap with abandoned
 * in-flight responses before and after the idle sweep clears them. No baseline: the figures are
 * the connector's growth against itself.
 */
import { performance } from "node:perf_hooks"
import { Agent } from "../../src/Agent.ts"
import { fmt, type PhaseResult } from "../report.ts"
import { connectorHarness, gc, heapMiB, roundTrips, rssMiB, serverHarness } from "../support.ts"

type Harness = Awaited<ReturnType<typeof serverHarness>>

/** Starts `count` responses that never finish (a `response.created` each), then waits until all are read. */
const abandon = async (harness: Harness, count: number) => {
  for (let i = 0; i < count; i++) {
    await harness.run(harness.server.sendRaw(JSON.stringify({
      type: "message",
      headers: { messageId: `msg_abandoned_${i}`, timestamp: Date.now(), conversationId: `gone_${i % 100}` },
      data: JSON.stringify({ type: "response.created", sequence_number: 0, event_id: `evt_a${i}`, response_id: `resp_abandoned_${i}`, response: { id: `resp_abandoned_${i}`, status: "in_progress" } })
    })))
  }
  await roundTrips(harness, 10, 1) // the abandoned frames are all read by now
}

export const memory = async (messages: number, abandoned: number): Promise<PhaseResult> => {
  const harness = await serverHarness()
  const { close } = await connectorHarness(harness.server.url, Agent.echo, { maxInFlightResponses: abandoned * 2, responseIdleTimeout: 2000 })
  await roundTrips(harness, 1000, 50)
  gc()
  const heapAfter1k = heapMiB()
  // In batches of 10 000. The dedupe memory (10 000 message ids and response ids per assembler,
  // here twice: the connector's and the server's) is full after ~10 000 messages; from the
  // reading after 20 000 on, nothing may grow.
  const start = performance.now()
  let heapAfter20k = heapAfter1k
  for (let sent = 1000; sent < messages; sent += 10_000) {
    await roundTrips(harness, Math.min(10_000, messages - sent), 50)
    if (sent + 10_000 >= 20_000 && heapAfter20k === heapAfter1k) {
      gc()
      heapAfter20k = heapMiB()
    }
  }
  const seconds = (performance.now() - start) / 1000
  gc()
  const heapAfterAll = heapMiB()
  const rssAfterAll = rssMiB()
  const { external, heapTotal } = process.memoryUsage()

  // Abandoned responses: started, never finished. The idle timeout (2 s here) must clear them.
  await abandon(harness, abandoned)
  gc()
  const heapWithAbandoned = heapMiB()
  await new Promise((resolve) => setTimeout(resolve, 3500)) // idle timeout 2 s + sweep every 1 s
  gc()
  const heapAfterSweep = heapMiB()
  await close()
  await harness.close()
  return {
    json: {
      memory: {
        messages,
        roundTripsPerSecond: messages / seconds,
        heapAfter1kMiB: heapAfter1k,
        heapAfter20kMiB: heapAfter20k,
        heapAfterAllMiB: heapAfterAll,
        heapGrowthFrom1k: heapAfterAll / heapAfter1k - 1,
        heapGrowthFrom20k: heapAfterAll / heapAfter20k - 1,
        rssAfterAllMiB: rssAfterAll,
        heapTotalMiB: heapTotal / 1048576,
        externalMiB: external / 1048576,
        abandoned,
        heapWithAbandonedMiB: heapWithAbandoned,
        heapAfterIdleSweepMiB: heapAfterSweep
      }
    },
    rows: [
      [`heap after 1k / ${fmt(messages)} round trips (MiB)`, `${fmt(heapAfter1k, 1)} / ${fmt(heapAfterAll, 1)}`, "—", `${fmt((heapAfterAll / heapAfter1k - 1) * 100, 1)} %`],
      [`heap after 20k / ${fmt(messages)} round trips (MiB)`, `${fmt(heapAfter20k, 1)} / ${fmt(heapAfterAll, 1)}`, "—", `${fmt((heapAfterAll / heapAfter20k - 1) * 100, 1)} %`],
      [`round trips/s (echo agent, 50 conversations)`, fmt(messages / seconds), "—", "—"],
      [`heap with ${fmt(abandoned)} abandoned / after idle sweep (MiB)`, `${fmt(heapWithAbandoned, 1)} / ${fmt(heapAfterSweep, 1)}`, "—", "—"],
      ["rss / V8 heap reserved / external after the long run (MiB)", `${fmt(rssAfterAll)} / ${fmt(heapTotal / 1048576)} / ${fmt(external / 1048576)}`, "—", "—"]
    ]
  }
}

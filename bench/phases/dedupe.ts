/**
 * Dedupe across restarts, in process against the reference server: round trips (echo agent, 10
 * conversations) with the answered ids written to a file (`DedupeStore.layerFile`), against the
 * same connector remembering them in memory only, alternated run by run. Round trips/s, median.
 */
import { Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { Agent } from "../../src/Agent.ts"
import * as DedupeStore from "../../src/DedupeStore.ts"
import { fmt, type PhaseOptions, type PhaseResult, times } from "../report.ts"
import { connectorHarness, median, roundTrips, serverHarness } from "../support.ts"

export const dedupe = async (messages: number, { runs }: PhaseOptions): Promise<PhaseResult> => {
  const dir = mkdtempSync(join(tmpdir(), "instaclaw-bench-dedupe-"))
  const harness = await serverHarness()
  const rate = async (extra: Layer.Layer<never>) => {
    const { close } = await connectorHarness(harness.server.url, Agent.echo, {}, undefined, extra)
    const start = performance.now()
    await roundTrips(harness, messages, 10)
    const perSecond = messages / ((performance.now() - start) / 1000)
    await close()
    return perSecond
  }
  const memoryRates: Array<number> = []
  const fileRates: Array<number> = []
  for (let run = 0; run < runs; run++) {
    memoryRates.push(await rate(Layer.empty))
    fileRates.push(await rate(DedupeStore.layerFile(join(dir, `answered-${run}.txt`))))
  }
  await harness.close()
  rmSync(dir, { recursive: true, force: true })
  const c = median(fileRates)
  const b = median(memoryRates)
  return {
    json: { dedupe: { messages, fileRoundTripsPerSecond: c, memoryRoundTripsPerSecond: b, ratio: c / b } },
    rows: [["dedupe store: round trips/s, file vs memory", fmt(c), fmt(b), times(c, b)]]
  }
}

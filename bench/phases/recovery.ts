/**
 * Recovery, in process: the reference server goes away and is back at once, `restarts` times;
 * how long after the reconnect attempt that was due (the backoff delay the connector logged) the
 * connector is connected again. No baseline: the lag is the connector's own.
 */
import { Effect, Stream } from "effect"
import { performance } from "node:perf_hooks"
import { Agent } from "../../src/Agent.ts"
import { fmt, type PhaseResult } from "../report.ts"
import { connectorHarness, median, serverHarness } from "../support.ts"

export const recovery = async (restarts: number): Promise<PhaseResult> => {
  let harness = await serverHarness({ port: 0 })
  const port = harness.server.port
  let dueAt = 0
  const sink = {
    info: () => {},
    error: () => {},
    warn: (line: string) => {
      const delay = /Reconnecting: attempt \d+ in (\d+) ms/.exec(line)?.[1]
      if (delay !== undefined) dueAt = performance.now() + Number(delay)
    }
  }
  const { close, connector } = await connectorHarness(harness.server.url, Agent.echo, {}, sink)
  const lags: Array<number> = []
  for (let i = 0; i < restarts; i++) {
    dueAt = 0
    await harness.close() // the server goes away: the connector schedules attempt 1 (1–2 s)
    harness = await serverHarness({ port }) // and is back at once
    const upAt = performance.now()
    await Effect.runPromise(connector.statusChanges.pipe(Stream.filter((s) => s.state === "connected"), Stream.runHead))
    lags.push(performance.now() - Math.max(dueAt, upAt))
  }
  await close()
  await harness.close()
  return {
    json: { recovery: { restarts, lagMs: { median: median(lags), max: Math.max(...lags) } } },
    rows: [["recovery: connected after the due attempt (ms)", `median ${fmt(median(lags), 1)}, max ${fmt(Math.max(...lags), 1)}`, "—", "—"]]
  }
}

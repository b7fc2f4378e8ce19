/**
 * Paced: the echo load server (bench/echo/server.ts) sends a steady 1 000 messages/s for a
 * minute (scaled) regardless of answers, to the connector (`insta-claw connect`) and then to the
 * hand-written plain-`ws` baseline (bench/echo/baseline.ts): the client's memory (peak RSS,
 * target ≤ 1.5×) and CPU use, not its speed.
 *
 * Then the same for the OpenClaw plugin entry, which users run inside OpenClaw's own process
 * (where a plugin cannot set Node flags): a minimal OpenClaw host (bench/echo/pluginHost.ts)
 * running the built entry, against the same host running the baseline client — peak RSS (target
 * ≤ 1.5×), CPU use, and round trips/s (below the pace if the client falls behind).
 *
 * A run that fails (a message unanswered or answered with other text, the client exiting or not
 * connecting, the deadline) is a failure of the phase; the other clients still run.
 */
import type { ClientKind } from "../processes.ts"
import { fmt, type PhaseResult, type Row, times } from "../report.ts"
import { echoServer, type EchoFigures } from "./echo.ts"

const KINDS: ReadonlyArray<ClientKind> = ["connector", "baseline", "plugin", "pluginBaseline"]

/**
 * A row of two figures and their ratio; a client whose run failed shows `failed`. In the plugin
 * entry's rows the baseline column is the baseline client in the same host.
 */
const row = (what: string, c: EchoFigures | undefined, b: EchoFigures | undefined, figure: (f: EchoFigures) => number, digits = 0): Row =>
  [what, c === undefined ? "failed" : fmt(figure(c), digits), b === undefined ? "failed" : fmt(figure(b), digits), c === undefined || b === undefined ? "—" : times(figure(c), figure(b))]

export const paced = async (seconds: number): Promise<PhaseResult> => {
  const server = await echoServer()
  const job = { messages: Math.round(1000 * seconds), conversations: 10, text: "twenty chars, hello!", window: 0, perSecond: 1000 }
  const figures: Partial<Record<ClientKind, EchoFigures>> = {}
  const failures: Array<string> = []
  try {
    for (const kind of KINDS) {
      try {
        figures[kind] = await server.run(kind, job)
      } catch (error) {
        failures.push(`paced 1 000 msg/s, ${kind}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  } finally {
    await server.close()
  }
  const { connector: c, baseline: b, plugin: p, pluginBaseline: pb } = figures
  const ratio = (x: EchoFigures | undefined, y: EchoFigures | undefined) => (x === undefined || y === undefined ? null : x.peakRssMiB / y.peakRssMiB)
  return {
    json: {
      paced: {
        ...job,
        seconds,
        connector: c ?? null,
        baseline: b ?? null,
        peakRssRatio: ratio(c, b),
        plugin: p ?? null,
        pluginBaseline: pb ?? null,
        pluginPeakRssRatio: ratio(p, pb)
      }
    },
    rows: [
      row(`paced 1 000 msg/s for ${fmt(seconds)} s: client peak RSS (MiB; target ≤ 1.5×)`, c, b, (f) => f.peakRssMiB, 1),
      row(`paced 1 000 msg/s: client CPU use (share of a core)`, c, b, (f) => f.cpuShare, 3),
      row(`paced 1 000 msg/s, plugin entry in a host: peak RSS (MiB; target ≤ 1.5×)`, p, pb, (f) => f.peakRssMiB, 1),
      row(`paced 1 000 msg/s, plugin entry in a host: CPU use (share of a core)`, p, pb, (f) => f.cpuShare, 3),
      row(`paced 1 000 msg/s, plugin entry in a host: round trips/s`, p, pb, (f) => f.roundTripsPerSecond)
    ],
    failures
  }
}

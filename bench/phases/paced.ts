/**
 * Paced: the echo load server (bench/echo/server.ts) sends a steady 1 000 messages/s for a
 * minute (scaled) regardless of answers, to the connector (`insta-claw connect`) and then to the
 * hand-written plain-`ws` baseline (bench/echo/baseline.ts): the client's memory (peak RSS,
 * target ≤ 1.2×) and CPU use, not its speed.
 */
import { fmt, type PhaseResult, times } from "../report.ts"
import { echoServer, type EchoFigures } from "./echo.ts"

export const paced = async (seconds: number): Promise<PhaseResult> => {
  const server = await echoServer()
  const job = { messages: Math.round(1000 * seconds), conversations: 10, text: "twenty chars, hello!", window: 0, perSecond: 1000 }
  let c: EchoFigures
  let b: EchoFigures
  try {
    c = await server.run("connector", job)
    b = await server.run("baseline", job)
  } finally {
    await server.close()
  }
  return {
    json: { paced: { ...job, seconds, connector: c, baseline: b, peakRssRatio: c.peakRssMiB / b.peakRssMiB } },
    rows: [
      [`paced 1 000 msg/s for ${fmt(seconds)} s: client peak RSS (MiB; target ≤ 1.2×)`, fmt(c.peakRssMiB, 1), fmt(b.peakRssMiB, 1), times(c.peakRssMiB, b.peakRssMiB)],
      [`paced 1 000 msg/s: client CPU use (share of a core)`, fmt(c.cpuShare, 3), fmt(b.cpuShare, 3), times(c.cpuShare, b.cpuShare)]
    ]
  }
}

/**
 * Acks — what protocol v2's acknowledgements cost on text-only echo (docs/PROTOCOL.md §6–§7).
 * The echo phase's workload (bench/echo/server.ts in its own process: 20-character messages,
 * window of 200 over 10 conversations) against `insta-claw connect` with the echo agent, the
 * server acting as v1 (the connector's hello is ignored: no acks) or as v2 listing `ack` (it
 * answers the hello: one ack per message, once its reply is confirmed), and against the
 * hand-written baseline (bench/echo/baseline.ts, v1), alternated run by run: v1 and v2 take turns
 * going first, so neither always gets the warmer machine.
 *
 * Figures, medians of the runs: round trips/s with acks over without (target ≥ 0.95×, shown, not
 * enforced — a small run on a shared machine is too noisy to fail on), the same ratio within each
 * run, the client's CPU per round trip (and its ratio within each run, steadier than the rate when
 * the machine is shared), and the connector (v1) against the baseline. Checked, and
 * a failure if not so: the v2 server received exactly one ack per message answered, each naming
 * the message's conversation, and the v1 server none; the connector said hello offering `ack`.
 */
import { loadavg } from "node:os"
import type { ClientKind } from "../processes.ts"
import { fmt, type PhaseOptions, type PhaseResult, type Row, times } from "../report.ts"
import { median } from "../support.ts"
import { echoServer, type EchoRunResult } from "./echo.ts"

type Setup = "v1" | "v2" | "baseline"

const clientOf: Record<Setup, ClientKind> = { v1: "connector", v2: "connector", baseline: "baseline" }
const protocolOf: Record<Setup, 1 | 2> = { v1: 1, v2: 2, baseline: 1 }
/** The target: round trips/s with acks at least this share of those without. */
const TARGET = 0.95
/** After the last answer, how long the v2 server waits without a new ack before it gives up. */
const ACK_QUIET_MS = 5_000

/** What is wrong with one run, as sentences; empty when it is right. */
const problems = (setup: Setup, result: EchoRunResult): Array<string> => {
  const d = result.done
  const out: Array<string> = []
  if (setup !== "baseline" && (d.hellos !== 1 || !d.helloOffersAck)) {
    out.push(`the connector sent ${d.hellos} hello${d.hellos === 1 ? "" : "s"}${d.helloOffersAck ? "" : ", none offering protocol 2 with ack"}`)
  }
  if (setup === "v2" && d.acks !== d.roundTrips) out.push(`${fmt(d.acks)} messages acknowledged of ${fmt(d.roundTrips)} answered`)
  if (setup !== "v2" && d.acks > 0) out.push(`the v1 server received ${fmt(d.acks)} acks`)
  if (d.ackDuplicates > 0) out.push(`${fmt(d.ackDuplicates)} acks of a message already acknowledged`)
  if (d.ackStrays > 0) out.push(`${fmt(d.ackStrays)} acks naming no message, or the wrong conversation`)
  return out
}

export const acks = async (messages: number, { runs: runCount }: PhaseOptions): Promise<PhaseResult> => {
  const job = { messages, conversations: 10, text: "twenty chars, hello!", window: 200 }
  const results: Record<Setup, Array<EchoRunResult>> = { v1: [], v2: [], baseline: [] }
  /** v2's rate over v1's within each run where both passed. */
  const paired: Array<number> = []
  /** v2's CPU per round trip over v1's within each run: on a shared machine it varies less than the rate. */
  const pairedCpu: Array<number> = []
  const failures: Array<string> = []
  /** The machine's 1-minute load average before and after: on a shared machine it says how far to trust the rates. */
  const loadBefore = loadavg()[0]!
  const server = await echoServer()
  try {
    for (let run = 0; run < runCount; run++) {
      const order: Array<Setup> = run % 2 === 0 ? ["v1", "v2", "baseline"] : ["baseline", "v2", "v1"]
      const passed: Partial<Record<Setup, EchoRunResult>> = {}
      for (const setup of order) {
        try {
          const result = await server.run(clientOf[setup], { ...job, protocol: protocolOf[setup], ackQuietMs: ACK_QUIET_MS })
          const wrong = problems(setup, result)
          if (wrong.length === 0) {
            results[setup].push(result)
            passed[setup] = result
          } else {
            failures.push(`acks, run ${run + 1}, ${setup}: ${wrong.join("; ")}`)
          }
        } catch (error) {
          failures.push(`acks, run ${run + 1}, ${setup}: ${error instanceof Error ? error.message : String(error)}`)
        }
      }
      if (passed.v1 !== undefined && passed.v2 !== undefined) {
        paired.push(passed.v2.roundTripsPerSecond / passed.v1.roundTripsPerSecond)
        pairedCpu.push(passed.v2.cpuMsPerRoundTrip / passed.v1.cpuMsPerRoundTrip)
      }
    }
  } finally {
    await server.close()
  }

  const pick = (setup: Setup, figure: (result: EchoRunResult) => number): number | undefined =>
    results[setup].length === 0 ? undefined : median(results[setup].map(figure))
  const summary = (setup: Setup) => ({
    runs: results[setup].length,
    roundTripsPerSecond: pick(setup, (r) => r.roundTripsPerSecond),
    cpuMsPerRoundTrip: pick(setup, (r) => r.cpuMsPerRoundTrip),
    cpuShare: pick(setup, (r) => r.cpuShare),
    serverCpuShare: pick(setup, (r) => r.serverCpuShare),
    peakRssMiB: pick(setup, (r) => r.peakRssMiB),
    /** v2: from the last answer to the last ack (ms). */
    ackLagMs: pick(setup, (r) => (r.done.acks === 0 ? 0 : (r.done.ackSeconds - r.done.seconds) * 1000)),
    /** Each run's own figures, in run order, to judge the noise; pids name the CPU profiles (BENCH_CPU_PROF). */
    perRun: results[setup].map((r) => ({
      roundTripsPerSecond: Math.round(r.roundTripsPerSecond),
      cpuMicrosPerRoundTrip: Math.round(r.cpuMsPerRoundTrip * 1000),
      acks: r.done.acks,
      pid: r.pid
    }))
  })
  const v1 = summary("v1")
  const v2 = summary("v2")
  const b = summary("baseline")
  const cell = (value: number | undefined, digits = 0) => (value === undefined ? "—" : fmt(value, digits))
  const ratio = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? "—" : times(x, y))
  const rateRatio = v2.roundTripsPerSecond !== undefined && v1.roundTripsPerSecond !== undefined ? v2.roundTripsPerSecond / v1.roundTripsPerSecond : undefined
  const verdict = rateRatio === undefined ? "" : rateRatio >= TARGET ? " — met" : " — missed"
  const acked = results.v2.length === 0
    ? "—"
    : results.v2.every((r) => r.done.acks === r.done.roundTrips)
    ? `${fmt(results.v2[0]!.done.acks)} of ${fmt(messages)}, each once`
    : "FAIL"
  const micros = (ms: number | undefined) => cell(ms === undefined ? undefined : ms * 1000)
  const rows: Array<Row> = [
    [`acks: connector round trips/s, v2 (acks) vs v1 server (target ≥ ${TARGET}×)`, cell(v2.roundTripsPerSecond), cell(v1.roundTripsPerSecond), `${ratio(v2.roundTripsPerSecond, v1.roundTripsPerSecond)}${verdict}`],
    ["acks: the same ratio within each run (v2 / v1)", paired.map((r) => `${r.toFixed(2)}×`).join(", ") || "—", "", paired.length === 0 ? "—" : `median ${median(paired).toFixed(2)}×`],
    ["acks: connector CPU per round trip (µs), v2 vs v1", micros(v2.cpuMsPerRoundTrip), micros(v1.cpuMsPerRoundTrip), ratio(v2.cpuMsPerRoundTrip, v1.cpuMsPerRoundTrip)],
    ["acks: the same CPU ratio within each run (v2 / v1)", pairedCpu.map((r) => `${r.toFixed(2)}×`).join(", ") || "—", "", pairedCpu.length === 0 ? "—" : `median ${median(pairedCpu).toFixed(2)}×`],
    [`acks: v2 server's acks (last one ${cell(v2.ackLagMs, 1)} ms after the last answer)`, acked, "", "—"],
    ["acks: round trips/s, connector (v1 server) vs hand-written baseline", cell(v1.roundTripsPerSecond), cell(b.roundTripsPerSecond), ratio(v1.roundTripsPerSecond, b.roundTripsPerSecond)]
  ]
  return {
    rows,
    failures,
    json: {
      acks: { ...job, target: TARGET, ackQuietMs: ACK_QUIET_MS, v1, v2, baseline: b, ratio: rateRatio, pairedRatios: paired, pairedCpuRatios: pairedCpu, loadAverage: [loadBefore, loadavg()[0]!] }
    }
  }
}

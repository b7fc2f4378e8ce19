/**
 * `npm run bench`: throughput, latency, memory, recovery and scale of the connector over
 * loopback. Every connector figure is paired with a baseline measured in the same run, so the
 * ratio survives a noisy machine; each figure is the median of several runs. Each phase lives in
 * bench/phases/ and says what it measures against which baseline; this driver picks the phases,
 * prints their rows as one table and writes their figures as JSON to bench/results/
 * (git-ignored). A phase that reports a failure (burst: a message unanswered or answered twice,
 * a dropped link; acks: a message not acknowledged exactly once) is printed under the table and
 * the run exits non-zero.
 *
 * BENCH_SCALE scales the sizes (default 1; CI-sized runs use e.g. 0.02), BENCH_RUNS the runs per
 * figure (default 5), BENCH_ONLY=outbound,burst runs just those phases.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { accounts } from "./phases/accounts.ts"
import { acks } from "./phases/acks.ts"
import { burst } from "./phases/burst.ts"
import { dedupe } from "./phases/dedupe.ts"
import { echo } from "./phases/echo.ts"
import { inbound } from "./phases/inbound.ts"
import { latency } from "./phases/latency.ts"
import { memory } from "./phases/memory.ts"
import { outbound } from "./phases/outbound.ts"
import { paced } from "./phases/paced.ts"
import { recovery } from "./phases/recovery.ts"
import { runtime } from "./phases/runtime.ts"
import { scale } from "./phases/scale.ts"
import { start } from "./phases/start.ts"
import { formatTable, type PhaseOptions, type PhaseResult } from "./report.ts"

const SCALE = Number(process.env.BENCH_SCALE ?? "1")
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? "5"))
const n = (count: number) => Math.max(10, Math.round(count * SCALE))
const ONLY = process.env.BENCH_ONLY?.split(",")

const options: PhaseOptions = { runs: RUNS }

/** Every phase in the order it runs; a name may run several measurements (outbound: two sizes). */
const phases: ReadonlyArray<readonly [name: string, measure: () => Promise<PhaseResult>]> = [
  ["outbound", () => outbound("short (20 chars)", "x".repeat(20), n(2000), options)],
  ["outbound", () => outbound("long (4 KiB)", "y".repeat(4096), n(200), options)],
  ["inbound", () => inbound(n(5000), options)],
  ["latency", () => latency(n(2000))],
  ["start", () => start(n(200))],
  ["memory", () => memory(n(100_000), n(10_000))],
  ["recovery", () => recovery(Math.max(2, Math.round(5 * Math.min(1, SCALE * 4))))],
  ["scale", () => scale(n(3000))],
  ["dedupe", () => dedupe(n(3000), options)],
  ["echo", () => echo(n(20_000), options)],
  ["runtime", () => runtime(n(20_000), options)],
  ["acks", () => acks(n(20_000), options)],
  ["paced", () => paced(Math.max(1, Math.round(60 * SCALE)))],
  ["accounts", () => accounts(n(2000), Math.max(2, Math.round(10 * SCALE)))],
  ["burst", () => burst([n(5000), n(20_000)], options)]
]

const main = async () => {
  const unknown = ONLY?.filter((name) => !phases.some(([phase]) => phase === name)) ?? []
  if (unknown.length > 0) throw new Error(`BENCH_ONLY names no phase called ${unknown.join(", ")}; the phases are ${[...new Set(phases.map(([name]) => name))].join(", ")}`)
  console.log(`insta-claw-connector benchmark — ${RUNS} runs per figure, scale ${SCALE}, ${process.version}\n`)
  const results: Record<string, unknown> = { scale: SCALE, runs: RUNS, node: process.version, date: new Date().toISOString() }
  const rows: Array<PhaseResult["rows"][number]> = []
  const failures: Array<string> = []
  for (const [name, measure] of phases) {
    if (ONLY !== undefined && !ONLY.includes(name)) continue
    const result = await measure()
    Object.assign(results, result.json)
    rows.push(...result.rows)
    failures.push(...(result.failures ?? []))
  }
  console.log(formatTable(rows))
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
  const file = new URL(`./results/bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`, import.meta.url)
  writeFileSync(file, JSON.stringify({ ...results, failures }, null, 2))
  console.log(`\nJSON: ${file.pathname}`)
  if (failures.length > 0) {
    console.error(`\nFAILED (${failures.length}):\n${failures.map((failure) => `  - ${failure}`).join("\n")}`)
    process.exitCode = 1
  }
}

main().then(() => process.exit(process.exitCode ?? 0), (error) => {
  console.error(error)
  process.exit(1)
})

/**
 * Burst — what users hit: a plain `ws` server with DEFAULT options (bench/burst/server.ts, its
 * own process) writes N complete user messages at once, with no window and no waiting, to one
 * client in another process: the connector (`insta-claw connect`, echo agent) or the baseline —
 * the hand-written plain-`ws` echo client (bench/echo/baseline.ts) — alternated run by run.
 *
 * For each N: round trips/s (median of the runs that passed) and the ratio connector/baseline;
 * whether every message was answered exactly once; whether the link dropped (a close or a
 * reconnect); the client's CPU per round trip and peak RSS while it works through the burst (on
 * a shared machine the CPU figure varies less than the rate). A message unanswered or answered
 * twice, or a dropped link, is printed in the table and returned as a failure (the run then
 * exits non-zero), with the last warnings the client wrote on stderr.
 *
 * The same for the OpenClaw plugin entry, which users run inside OpenClaw's own process: a minimal
 * OpenClaw host (bench/echo/pluginHost.ts) running the built entry, against the same host running
 * the baseline client, alternated with the two above — the same figures, the host's peak RSS
 * against a target of ≤ 1.5×, and the same failures.
 *
 * Bounded: the server ends a run when all is answered, after 5 s without a new answer, or at a
 * deadline that grows with N; the client must connect within 30 s; a client or server that does
 * not exit is killed.
 */
import { randomUUID } from "node:crypto"
import type { BurstOutcome, BurstRun } from "../burst/server.ts"
import { type ClientKind, forkLoadServer, type LoadServer, processStats, spawnClient, startedOrExited } from "../processes.ts"
import { fmt, type PhaseOptions, type PhaseResult, type Row, times } from "../report.ts"
import { median } from "../support.ts"

const CONVERSATIONS = 10
const QUIET_MS = 5_000
const SETTLE_MS = 300
const CONNECT_TIMEOUT_MS = 30_000
/** 20 s, and 2 ms more per message: far beyond either client on a slow machine. */
const deadlineMs = (messages: number) => 20_000 + messages * 2

/** One run of one client: the server's count, or why there is none; the client's stderr warnings. */
interface RunResult {
  readonly outcome?: BurstOutcome
  /** The client process over the run: CPU time (ms) and peak resident memory (MiB). */
  readonly client?: { readonly cpuMs: number; readonly peakRssMiB: number }
  /** Set when the run produced no outcome (the client never connected, the server timed out). */
  readonly error?: string
  readonly warnings: ReadonlyArray<string>
}

/** What went wrong in one run: a short clause for the table and a full one for the failure list. */
const problems = (run: RunResult): Array<{ readonly short: string; readonly full: string }> => {
  const o = run.outcome
  if (o === undefined) return [{ short: "did not run (see below)", full: run.error ?? "no outcome" }]
  const out: Array<{ short: string; full: string }> = []
  if (o.answered < o.messages) {
    out.push({ short: `${fmt(o.messages - o.answered)} unanswered`, full: `${fmt(o.messages - o.answered)} of ${fmt(o.messages)} unanswered` })
  }
  if (o.answeredTwice > 0) out.push({ short: `${fmt(o.answeredTwice)} answered twice`, full: `${fmt(o.answeredTwice)} answered twice` })
  if (o.unknownReplies > 0) out.push({ short: `${fmt(o.unknownReplies)} stray replies`, full: `${fmt(o.unknownReplies)} replies naming no message` })
  if (o.closes.length > 0 || o.connections > 1) {
    const codes = o.closes.map((close) => `close ${close.code} after ${fmt(close.answeredBefore)} answers`).join(", ")
    out.push({ short: "link dropped", full: `link dropped (${codes || "no close seen"}; ${o.connections} connection${o.connections === 1 ? "" : "s"})` })
  }
  if (o.ended === "quiet") out.push({ short: "stalled", full: `no new answer for ${QUIET_MS / 1000} s` })
  if (o.ended === "deadline") out.push({ short: "too slow", full: `not done by the ${fmt(deadlineMs(o.messages) / 1000)} s deadline` })
  return out
}

const rateOf = (o: BurstOutcome) => (o.seconds > 0 ? o.answered / o.seconds : 0)

/** Lines of the client's stderr worth quoting when a run failed: its warnings and errors. */
const notable = (lines: ReadonlyArray<string>) => lines.filter((line) => /\[(WARN|ERROR)\]|Error/.test(line)).slice(-3)

/** Samples a process's memory every 250 ms; `end` gives its CPU time since the start and its peak RSS. */
const watchUsage = (pid: number) => {
  const read = () => {
    try {
      return processStats(pid)
    } catch {
      return undefined // the process has exited
    }
  }
  const before = read()
  let peakRssMiB = before?.rssMiB ?? 0
  const sampler = setInterval(() => {
    peakRssMiB = Math.max(peakRssMiB, read()?.rssMiB ?? 0)
  }, 250)
  return {
    end: () => {
      clearInterval(sampler)
      const after = read()
      return { cpuMs: (after?.cpuMs ?? 0) - (before?.cpuMs ?? 0), peakRssMiB: Math.max(peakRssMiB, after?.rssMiB ?? 0) }
    }
  }
}

const runOnce = async (server: LoadServer, kind: ClientKind, messages: number): Promise<RunResult> => {
  const id = randomUUID()
  const client = spawnClient(kind, `${server.url}${id}`, "keep")
  const job: BurstRun = { type: "run", id, messages, conversations: CONVERSATIONS, quietMs: QUIET_MS, deadlineMs: deadlineMs(messages), settleMs: SETTLE_MS }
  let usage: ReturnType<typeof watchUsage> | undefined
  try {
    server.send(job)
    await startedOrExited(server.next("started", { id, timeout: { ms: CONNECT_TIMEOUT_MS, what: `the ${kind} did not connect to the burst server` } }), client, kind)
    usage = watchUsage(client.pid)
    const outcome = await server.next("done", { id, timeout: { ms: job.deadlineMs + 15_000, what: `the burst server did not end its ${kind} run` } })
    return { outcome: outcome as BurstOutcome, client: usage.end(), warnings: notable(client.stderrLines()) }
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error), warnings: notable(client.stderrLines()) }
  } finally {
    usage?.end()
    await client.stop()
  }
}

/** The table cell for one client's runs at one size: its pass/fail line. */
const verdict = (results: ReadonlyArray<RunResult>, messages: number): string => {
  const failed = results.filter((result) => problems(result).length > 0)
  if (failed.length === 0) return `ok: ${fmt(messages)} answered once each, no drop`
  const runs = results.length === 1 ? "" : ` (${failed.length} of ${results.length} runs)`
  return `FAIL${runs}: ${problems(failed[0]!).map((problem) => problem.short).join(", ")}`
}

/** Median round trips/s over the runs that passed; undefined if none did. */
const passedRate = (results: ReadonlyArray<RunResult>): number | undefined => {
  const rates = results.filter((result) => problems(result).length === 0).map((result) => rateOf(result.outcome!))
  return rates.length === 0 ? undefined : median(rates)
}

/** Median CPU time of a client per message it answered (µs); undefined if no run measured it. */
const cpuPerAnswer = (results: ReadonlyArray<RunResult>): number | undefined => {
  const costs = results.flatMap((result) =>
    result.client === undefined || result.outcome === undefined || result.outcome.answered === 0 ? [] : [(result.client.cpuMs * 1000) / result.outcome.answered]
  )
  return costs.length === 0 ? undefined : median(costs)
}

/** Median peak RSS of a client over the runs that measured it (MiB); undefined if none did. */
const peakRss = (results: ReadonlyArray<RunResult>): number | undefined => {
  const peaks = results.flatMap((result) => (result.client === undefined ? [] : [result.client.peakRssMiB]))
  return peaks.length === 0 ? undefined : median(peaks)
}

/** A row of two figures and their ratio; a missing figure shows as `missing`. */
const figureRow = (what: string, c: number | undefined, b: number | undefined, missing = "—"): Row =>
  [what, c === undefined ? missing : fmt(c), b === undefined ? missing : fmt(b), c === undefined || b === undefined ? "—" : times(c, b)]

/** How a failure names each client. */
const clientName: Record<ClientKind, string> = {
  connector: "connector",
  baseline: "baseline",
  plugin: "plugin entry in an OpenClaw host",
  pluginBaseline: "baseline in an OpenClaw host"
}

const failureSentences = (kind: ClientKind, messages: number, results: ReadonlyArray<RunResult>): Array<string> =>
  results.flatMap((result, run) => {
    const found = problems(result)
    if (found.length === 0) return []
    const said = result.warnings.length === 0 ? "" : `\n    its last warnings: ${result.warnings.join("\n      ")}`
    return [`burst ${fmt(messages)} at once, ${clientName[kind]}, run ${run + 1}: ${found.map((problem) => problem.full).join("; ")}${said}`]
  })

/** The order of one run: the two pairs side by side, reversed every other run. */
const ORDER: ReadonlyArray<ClientKind> = ["connector", "baseline", "plugin", "pluginBaseline"]

const measureSize = async (server: LoadServer, messages: number, runs: number) => {
  const results: Record<ClientKind, Array<RunResult>> = { connector: [], baseline: [], plugin: [], pluginBaseline: [] }
  for (let run = 0; run < runs; run++) {
    // Alternate which goes first, so neither always gets the warmer machine.
    for (const kind of run % 2 === 0 ? ORDER : ORDER.toReversed()) {
      results[kind].push(await runOnce(server, kind, messages))
    }
  }
  const c = passedRate(results.connector)
  const b = passedRate(results.baseline)
  const p = passedRate(results.plugin)
  const pb = passedRate(results.pluginBaseline)
  const pRss = peakRss(results.plugin)
  const pbRss = peakRss(results.pluginBaseline)
  const rows: Array<Row> = [
    figureRow(`burst ${fmt(messages)} at once (plain ws server): round trips/s`, c, b, "failed"),
    [`burst ${fmt(messages)}: each answered once, link kept`, verdict(results.connector, messages), verdict(results.baseline, messages), "—"],
    figureRow(`burst ${fmt(messages)}: client CPU per round trip (µs)`, cpuPerAnswer(results.connector), cpuPerAnswer(results.baseline)),
    figureRow(`burst ${fmt(messages)}: client peak RSS (MiB)`, peakRss(results.connector), peakRss(results.baseline)),
    // The plugin entry's rows: the baseline column is the baseline client in the same host.
    figureRow(`burst ${fmt(messages)}, plugin entry in a host: round trips/s`, p, pb, "failed"),
    [`burst ${fmt(messages)}, plugin entry in a host: each answered once, link kept`, verdict(results.plugin, messages), verdict(results.pluginBaseline, messages), "—"],
    figureRow(`burst ${fmt(messages)}, plugin entry in a host: CPU per round trip (µs)`, cpuPerAnswer(results.plugin), cpuPerAnswer(results.pluginBaseline)),
    figureRow(`burst ${fmt(messages)}, plugin entry in a host: peak RSS (MiB; target ≤ 1.5×)`, pRss, pbRss)
  ]
  const summary = (kind: ClientKind) => ({
    roundTripsPerSecond: passedRate(results[kind]) ?? null,
    cpuMicrosPerRoundTrip: cpuPerAnswer(results[kind]) ?? null,
    peakRssMiB: peakRss(results[kind]) ?? null,
    runs: results[kind].map((result) => ({ ...result.outcome, client: result.client, error: result.error, problems: problems(result).map((problem) => problem.full) }))
  })
  return {
    rows,
    json: {
      connector: summary("connector"),
      baseline: summary("baseline"),
      ratio: c === undefined || b === undefined ? null : c / b,
      plugin: summary("plugin"),
      pluginBaseline: summary("pluginBaseline"),
      pluginRatio: p === undefined || pb === undefined ? null : p / pb,
      pluginPeakRssRatio: pRss === undefined || pbRss === undefined ? null : pRss / pbRss
    },
    failures: ORDER.flatMap((kind) => failureSentences(kind, messages, results[kind]))
  }
}

export const burst = async (sizes: ReadonlyArray<number>, { runs }: PhaseOptions): Promise<PhaseResult> => {
  const server = await forkLoadServer("burst/server.ts")
  const rows: Array<Row> = []
  const failures: Array<string> = []
  const byMessages: Record<number, unknown> = {}
  try {
    for (const messages of sizes) {
      const size = await measureSize(server, messages, runs)
      rows.push(...size.rows)
      failures.push(...size.failures)
      byMessages[messages] = size.json
    }
  } finally {
    await server.close()
  }
  return { rows, failures, json: { burst: { conversations: CONVERSATIONS, quietMs: QUIET_MS, byMessages } } }
}

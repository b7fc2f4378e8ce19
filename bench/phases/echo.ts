/**
 * Echo across processes: the load server (bench/echo/server.ts, plain `ws`) in one process, and
 * in another either the connector (`insta-claw connect`, the echo agent) or the baseline — the
 * hand-written plain-`ws` echo client (bench/echo/baseline.ts) — alternated run by run. A window
 * of 200 unanswered messages over 10 conversations: round trips/s (target ≥ 0.9×), client CPU per
 * round trip, CPU use of client and server, client peak RSS; medians of the runs.
 */
import { randomUUID } from "node:crypto"
import type { EchoDone, EchoRun } from "../echo/server.ts"
import { type ClientKind, forkLoadServer, processStats, spawnClient, startedOrExited } from "../processes.ts"
import { fmt, type PhaseOptions, type PhaseResult, times } from "../report.ts"
import { median } from "../support.ts"

/** What one measured run of one client gives. */
export interface EchoFigures {
  readonly roundTripsPerSecond: number
  readonly cpuMsPerRoundTrip: number
  readonly cpuShare: number
  readonly serverCpuShare: number
  readonly rssMiB: number
  readonly peakRssMiB: number
}

/** One measured run: the figures, what the load server counted, and the client's pid (its CPU profile's name). */
export type EchoRunResult = EchoFigures & { readonly done: EchoDone; readonly pid: number }

/** How long a run may take once started: a minute, and 5 ms more per message — far beyond either client. */
const runDeadlineMs = (messages: number) => 60_000 + messages * 5

/**
 * The echo load server as a child process, and one measured run of one client against it. A run
 * fails if the client does not connect (or, against a v2 server, say hello) within 30 s, exits
 * before the run is done, or the run is not done by its deadline; or if a message went
 * unanswered or was answered with other text.
 */
export const echoServer = async () => {
  const server = await forkLoadServer("echo/server.ts")
  const run = async (kind: ClientKind, job: Omit<EchoRun, "type" | "id">): Promise<EchoRunResult> => {
    const id = randomUUID()
    const client = spawnClient(kind, server.url)
    try {
      server.send({ type: "run", id, ...job } satisfies EchoRun)
      await startedOrExited(server.next("started", { id, timeout: { ms: 30_000, what: `the ${kind} did not start a run of the echo server` } }), client, kind)
      const before = processStats(client.pid)
      let peakRssMiB = before.rssMiB
      const sampler = setInterval(() => {
        try {
          peakRssMiB = Math.max(peakRssMiB, processStats(client.pid).rssMiB)
        } catch {
          // The client has exited: the race below says so.
        }
      }, 250)
      let done: EchoDone
      try {
        const ended = server.next("done", { id, timeout: { ms: runDeadlineMs(job.messages), what: `the echo server did not end its ${kind} run` } })
        const exited = client.exited.then(() => Promise.reject(new Error(`the ${kind} exited during its run`)))
        // The one that loses the race settles later, unobserved.
        ended.catch(() => {})
        exited.catch(() => {})
        done = await Promise.race([ended, exited]) as EchoDone
      } finally {
        clearInterval(sampler)
      }
      const after = processStats(client.pid)
      if (done.roundTrips !== job.messages || done.mismatches !== 0) throw new Error(`${kind}: ${JSON.stringify(done)}`)
      return {
        roundTripsPerSecond: done.roundTrips / done.seconds,
        cpuMsPerRoundTrip: (after.cpuMs - before.cpuMs) / done.roundTrips,
        cpuShare: (after.cpuMs - before.cpuMs) / 1000 / done.seconds,
        serverCpuShare: done.serverCpuMs / 1000 / done.seconds,
        rssMiB: after.rssMiB,
        peakRssMiB: Math.max(peakRssMiB, after.rssMiB),
        done,
        pid: client.pid
      }
    } finally {
      await client.stop()
    }
  }
  return { run, close: server.close }
}

/** The clients this phase compares: the command line and the hand-written baseline. */
type CliKind = Extract<ClientKind, "connector" | "baseline">

export const echo = async (messages: number, { runs: runCount }: PhaseOptions): Promise<PhaseResult> => {
  const server = await echoServer()
  const job = { messages, conversations: 10, text: "twenty chars, hello!", window: 200 }
  const runs: Record<CliKind, Array<EchoFigures>> = { connector: [], baseline: [] }
  try {
    for (let run = 0; run < runCount; run++) {
      // Alternate which goes first, so neither always gets the warmer machine.
      for (const kind of (run % 2 === 0 ? ["connector", "baseline"] : ["baseline", "connector"]) as Array<CliKind>) {
        runs[kind].push(await server.run(kind, job))
      }
    }
  } finally {
    await server.close()
  }
  const pick = (kind: CliKind, key: keyof EchoFigures) => median(runs[kind].map((r) => r[key]))
  const summary = (kind: CliKind) => ({
    roundTripsPerSecond: pick(kind, "roundTripsPerSecond"),
    cpuMsPerRoundTrip: pick(kind, "cpuMsPerRoundTrip"),
    cpuShare: pick(kind, "cpuShare"),
    serverCpuShare: pick(kind, "serverCpuShare"),
    peakRssMiB: pick(kind, "peakRssMiB")
  })
  const c = summary("connector")
  const b = summary("baseline")
  return {
    json: { echo: { ...job, connector: c, baseline: b, ratio: c.roundTripsPerSecond / b.roundTripsPerSecond } },
    rows: [
      ["echo across processes: round trips/s (target ≥ 0.9×)", fmt(c.roundTripsPerSecond), fmt(b.roundTripsPerSecond), times(c.roundTripsPerSecond, b.roundTripsPerSecond)],
      ["echo: client CPU per round trip (µs)", fmt(c.cpuMsPerRoundTrip * 1000), fmt(b.cpuMsPerRoundTrip * 1000), times(c.cpuMsPerRoundTrip, b.cpuMsPerRoundTrip)],
      ["echo: client / load-server CPU use (share of a core)", `${fmt(c.cpuShare, 2)} / ${fmt(c.serverCpuShare, 2)}`, `${fmt(b.cpuShare, 2)} / ${fmt(b.serverCpuShare, 2)}`, "—"],
      ["echo: client peak RSS (MiB)", fmt(c.peakRssMiB), fmt(b.peakRssMiB), times(c.peakRssMiB, b.peakRssMiB)]
    ]
  }
}

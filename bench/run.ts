/**
 * `npm run bench`: throughput, latency, memory, recovery and scale of the connector over
 * loopback against the reference server. Every connector figure is paired with a baseline
 * measured in the same run, so the ratio survives a noisy machine; each figure is the median of
 * several runs. Prints a table and writes JSON to bench/results/ (git-ignored).
 *
 * Sizes scale with BENCH_SCALE (default 1; CI-sized runs use e.g. 0.05).
 */
import { Effect, Layer, Stream } from "effect"
import { fork, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"
import { Agent } from "../src/Agent.ts"
import * as DedupeStore from "../src/DedupeStore.ts"
import * as Protocol from "../src/Protocol.ts"
import { replyFrames } from "./echo/baseline.ts"
import type { EchoRun } from "./echo/server.ts"
import { connectorHarness, gc, heapMiB, median, percentile, rssMiB, serverHarness } from "./support.ts"

const SCALE = Number(process.env.BENCH_SCALE ?? "1")
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? "5"))
const n = (count: number) => Math.max(10, Math.round(count * SCALE))
/** BENCH_ONLY=outbound,memory runs just those phases. */
const ONLY = process.env.BENCH_ONLY?.split(",")
const phase = (name: string) => ONLY === undefined || ONLY.includes(name)

const results: Record<string, unknown> = { scale: SCALE, runs: RUNS, node: process.version, date: new Date().toISOString() }
const rows: Array<[string, string, string, string]> = []
const row = (what: string, connector: string, baseline: string, ratio: string) => rows.push([what, connector, baseline, ratio])
const fmt = (value: number, digits = 0) => value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

// ---------------------------------------------------------------------------------------------
// The baseline: what a user would hand-write instead — a bare `ws` client building the same
// envelopes with JSON.stringify.
// ---------------------------------------------------------------------------------------------

const openBaseline = (url: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { "x-app-key": "demo", "x-app-secret": "demo-secret" } })
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  })

/** The events of docs/PROTOCOL.md §4 for one reply, hand-built, with deltas of `deltaSize`. */
const baselineFrames = (conversationId: string, text: string, deltaSize: number): Array<string> => {
  const deltas: Array<string> = []
  for (let i = 0; i < text.length; i += deltaSize) deltas.push(text.slice(i, i + deltaSize))
  return replyFrames(conversationId, text, deltas)
}

// ---------------------------------------------------------------------------------------------
// 1. Outbound throughput
// ---------------------------------------------------------------------------------------------

const outbound = async (label: string, text: string, replies: number) => {
  const harness = await serverHarness()
  const completed = (event: { readonly _tag: string }) => event._tag === "ReplyCompleted"
  const framesPerReply = baselineFrames("c", text, 50).length
  const connectorRates: Array<number> = []
  const baselineRates: Array<number> = []
  const { close, connector } = await connectorHarness(harness.server.url, Agent.echo)
  const baseline = await openBaseline(harness.server.url)
  for (let run = 0; run < RUNS; run++) {
    let done = harness.count(completed, replies)
    let start = performance.now()
    await Effect.runPromise(
      Effect.forEach(Array.from({ length: replies }, (_, i) => i), (i) => connector.send(`conv_${i % 64}`, text), { concurrency: 64, discard: true })
    )
    await done
    connectorRates.push(replies / ((performance.now() - start) / 1000))

    done = harness.count(completed, replies)
    start = performance.now()
    for (let i = 0; i < replies; i++) for (const frame of baselineFrames(`conv_${i % 64}`, text, 50)) baseline.send(frame)
    await done
    baselineRates.push(replies / ((performance.now() - start) / 1000))
  }
  baseline.close()
  await close()
  await harness.close()
  const c = median(connectorRates)
  const b = median(baselineRates)
  results[`outbound_${label}`] = { replies, framesPerReply, connectorRepliesPerSecond: c, baselineRepliesPerSecond: b, ratio: c / b }
  row(`outbound ${label}: replies/s`, fmt(c), fmt(b), `${(c / b).toFixed(2)}×`)
  row(`outbound ${label}: events/s`, fmt(c * framesPerReply), fmt(b * framesPerReply), `${(c / b).toFixed(2)}×`)
}

// ---------------------------------------------------------------------------------------------
// 2. Inbound throughput (decode + assembly, in process), against a baseline that parses and
//    checks the fields the connector reads and assembles the deltas
// ---------------------------------------------------------------------------------------------

/** The hand-written inbound path: the fields the connector uses, checked; deltas assembled; no bounds, no dedupe. */
const checkedBaseline = (frames: ReadonlyArray<string>): number => {
  const open = new Map<string, { text: string; next: number }>()
  let completed = 0
  for (const json of frames) {
    const envelope = JSON.parse(json)
    if (envelope.type !== "message" || typeof envelope.data !== "string" || typeof envelope.headers?.messageId !== "string" || typeof envelope.headers.conversationId !== "string") continue
    const event = JSON.parse(envelope.data)
    const responseId = event.response_id
    if (typeof event.type !== "string" || typeof responseId !== "string" || typeof event.sequence_number !== "number") continue
    let state = open.get(responseId)
    if (state === undefined) {
      if (event.type !== "response.created") continue
      state = { text: "", next: 0 }
      open.set(responseId, state)
    }
    if (event.sequence_number !== state.next) continue
    state.next++
    if (event.type === "response.output_text.delta" && typeof event.delta === "string") state.text += event.delta
    else if (event.type === "response.completed") {
      open.delete(responseId)
      if (state.text !== "") completed++
    }
  }
  return completed
}

const inbound = (messages: number) => {
  const protocol = Protocol.make()
  const frames: Array<string> = []
  for (let i = 0; i < messages; i++) {
    const encoder = new Protocol.ReplyEncoder({ conversationId: `conv_${i % 50}`, token: `tok${i}`, startedAt: Date.now(), model: "m", profile: "full", deltaSize: 50, role: "user" })
    for (const frame of [...encoder.open(), ...encoder.text(`User message number ${i}: ${"lorem ipsum dolor sit amet ".repeat(8)}`), ...encoder.complete()]) frames.push(frame.json)
  }
  const connectorRates: Array<number> = []
  const baselineRates: Array<number> = []
  for (let run = 0; run < RUNS; run++) {
    let start = performance.now()
    const assembler = Effect.runSync(protocol.makeAssembler)
    let delivered = 0
    for (const json of frames) {
      const decoded = Protocol.decodeFrame(json)
      if (decoded._tag === "Success" && Protocol.isMessageEnvelope(decoded.success)) {
        for (const output of assembler.push(decoded.success, 0)) if (output._tag === "Message") delivered++
      }
    }
    if (delivered !== messages) throw new Error(`assembled ${delivered} of ${messages}`)
    connectorRates.push(messages / ((performance.now() - start) / 1000))

    start = performance.now()
    if (checkedBaseline(frames) !== messages) throw new Error("baseline miscounted")
    baselineRates.push(messages / ((performance.now() - start) / 1000))
  }
  const c = median(connectorRates)
  const b = median(baselineRates)
  results.inbound = { messages, framesPerMessage: frames.length / messages, connectorMessagesPerSecond: c, baselineMessagesPerSecond: b, ratio: c / b }
  row("inbound: messages/s (target ≥ 0.8×)", fmt(c), fmt(b), `${(c / b).toFixed(2)}×`)
}

// ---------------------------------------------------------------------------------------------
// 3. Latency: last event of a user message → first reply delta on the wire; connector and
//    baseline in alternating blocks, 2 000 messages in all
// ---------------------------------------------------------------------------------------------

const latency = async (messages: number) => {
  const harness = await serverHarness()
  let next = 0
  const measure = async (count: number) => {
    const samples: Array<number> = []
    for (let i = 0; i < count; i++) {
      const conversationId = `lat_${next++}`
      const firstDelta = new Promise<number>((resolve) => {
        const off = harness.on((event) => {
          if (event._tag === "ReplyDelta" && event.conversationId === conversationId) {
            off()
            resolve(performance.now())
          }
        })
      })
      await harness.run(harness.server.sendUserMessage({ conversationId, text: "How fast is the first delta?" }))
      const sentAt = performance.now()
      samples.push((await firstDelta) - sentAt)
    }
    // The first tenth of each block warms up after the (re)connect.
    return samples.slice(Math.floor(count / 10))
  }
  const measureConnector = async (count: number) => {
    const { close } = await connectorHarness(harness.server.url, Agent.echo)
    const samples = await measure(count)
    await close()
    return samples
  }
  // Baseline: a bare client that answers each completed message with a hand-built reply at once.
  const measureBaseline = async (count: number) => {
    const baseline = await openBaseline(harness.server.url)
    baseline.on("message", (data) => {
      const envelope = JSON.parse(String(data))
      const event = JSON.parse(envelope.data)
      if (event.type !== "response.completed") return
      for (const frame of baselineFrames(envelope.headers.conversationId, "How fast is the first delta?", 50)) baseline.send(frame)
    })
    const samples = await measure(count)
    baseline.close()
    return samples
  }
  // Blocks of each, alternated, so both see the same moments of this machine (its noise is most
  // of a p99 measured on one side alone).
  const blocks = 4
  const connectorSamples: Array<number> = []
  const baselineSamples: Array<number> = []
  for (let block = 0; block < blocks; block++) {
    const size = Math.ceil(messages / blocks)
    if (block % 2 === 0) {
      connectorSamples.push(...(await measureConnector(size)))
      baselineSamples.push(...(await measureBaseline(size)))
    } else {
      baselineSamples.push(...(await measureBaseline(size)))
      connectorSamples.push(...(await measureConnector(size)))
    }
  }
  await harness.close()
  const stats = (samples: Array<number>) => ({ p50: percentile(samples, 50), p99: percentile(samples, 99) })
  const c = stats(connectorSamples)
  const b = stats(baselineSamples)
  results.latency = { messages, connectorMs: c, baselineMs: b, addedP50Ms: c.p50 - b.p50, addedP99Ms: c.p99 - b.p99 }
  row("latency p50 (ms)", fmt(c.p50, 3), fmt(b.p50, 3), `+${fmt(c.p50 - b.p50, 3)} ms`)
  row("latency p99 (ms)", fmt(c.p99, 3), fmt(b.p99, 3), `+${fmt(c.p99 - b.p99, 3)} ms`)
}

// ---------------------------------------------------------------------------------------------
// 4. Memory over a long-lived connection, and after abandoned in-flight responses
// ---------------------------------------------------------------------------------------------

/** Sends `count` user messages, `concurrency` at a time across conversations; waits for every reply. */
const roundTrips = async (harness: Awaited<ReturnType<typeof serverHarness>>, count: number, conversations: number) => {
  const done = harness.count((event) => event._tag === "ReplyCompleted", count)
  await harness.run(
    Effect.forEach(
      Array.from({ length: conversations }, (_, c) => c),
      (c) =>
        Effect.forEach(
          Array.from({ length: Math.ceil(count / conversations) }, (_, i) => c + i * conversations).filter((i) => i < count),
          (i) => harness.server.sendUserMessage({ conversationId: `conv_${c}`, text: `message ${i} says hello` }),
          { discard: true }
        ),
      { concurrency: "unbounded", discard: true }
    )
  )
  await done
}

const memory = async (messages: number, abandoned: number) => {
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
  for (let i = 0; i < abandoned; i++) {
    await harness.run(harness.server.sendRaw(JSON.stringify({
      type: "message",
      headers: { messageId: `msg_abandoned_${i}`, timestamp: Date.now(), conversationId: `gone_${i % 100}` },
      data: JSON.stringify({ type: "response.created", sequence_number: 0, event_id: `evt_a${i}`, response_id: `resp_abandoned_${i}`, response: { id: `resp_abandoned_${i}`, status: "in_progress" } })
    })))
  }
  await roundTrips(harness, 10, 1) // the abandoned frames are all read by now
  gc()
  const heapWithAbandoned = heapMiB()
  await new Promise((resolve) => setTimeout(resolve, 3500)) // idle timeout 2 s + sweep every 1 s
  gc()
  const heapAfterSweep = heapMiB()
  await close()
  await harness.close()
  results.memory = {
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
  row(`heap after 1k / ${fmt(messages)} round trips (MiB)`, `${fmt(heapAfter1k, 1)} / ${fmt(heapAfterAll, 1)}`, "—", `${fmt((heapAfterAll / heapAfter1k - 1) * 100, 1)} %`)
  row(`heap after 20k / ${fmt(messages)} round trips (MiB)`, `${fmt(heapAfter20k, 1)} / ${fmt(heapAfterAll, 1)}`, "—", `${fmt((heapAfterAll / heapAfter20k - 1) * 100, 1)} %`)
  row(`round trips/s (echo agent, 50 conversations)`, fmt(messages / seconds), "—", "—")
  row(`heap with ${fmt(abandoned)} abandoned / after idle sweep (MiB)`, `${fmt(heapWithAbandoned, 1)} / ${fmt(heapAfterSweep, 1)}`, "—", "—")
  row("rss / V8 heap reserved / external after the long run (MiB)", `${fmt(rssAfterAll)} / ${fmt(heapTotal / 1048576)} / ${fmt(external / 1048576)}`, "—", "—")
}

// ---------------------------------------------------------------------------------------------
// 5. Recovery: server restart → connected, against the backoff delay that was due
// ---------------------------------------------------------------------------------------------

const recovery = async (restarts: number) => {
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
  results.recovery = { restarts, lagMs: { median: median(lags), max: Math.max(...lags) } }
  row("recovery: connected after the due attempt (ms)", `median ${fmt(median(lags), 1)}, max ${fmt(Math.max(...lags), 1)}`, "—", "—")
}

// ---------------------------------------------------------------------------------------------
// 6. Scale: 1, 10, 100 concurrent conversations
// ---------------------------------------------------------------------------------------------

const scale = async (messages: number) => {
  const harness = await serverHarness()
  const { close } = await connectorHarness(harness.server.url, Agent.echo, { maxConcurrentConversations: 100 })
  const out: Record<string, unknown> = {}
  for (const conversations of [1, 10, 100]) {
    gc()
    const before = heapMiB()
    const start = performance.now()
    await roundTrips(harness, messages, conversations)
    const rate = messages / ((performance.now() - start) / 1000)
    const heapPeak = heapMiB()
    out[conversations] = { messagesPerSecond: rate, heapMiB: heapPeak, heapDeltaMiB: heapPeak - before }
    row(`scale ${conversations} conversations: msg/s, heap (MiB)`, `${fmt(rate)}, ${fmt(heapPeak, 1)}`, "—", "—")
  }
  await close()
  await harness.close()
  results.scale = { messages, byConversations: out }
}

// ---------------------------------------------------------------------------------------------
// 3b. Start: the first frame after the user's last event, while the agent still thinks; and the
//     first delta after the agent's first token
// ---------------------------------------------------------------------------------------------

const start = async (messages: number) => {
  const harness = await serverHarness()
  const firstTokenAt = new Map<string, number>()
  // An agent that thinks 30 ms before its first word, like a model before its first token.
  const thinking = Agent.layer((request) =>
    Stream.fromEffect(Effect.sleep("30 millis")).pipe(
      Stream.flatMap(() => {
        firstTokenAt.set(request.conversationId, performance.now())
        return Stream.make("The ", "answer.")
      })
    )
  )
  const { close } = await connectorHarness(harness.server.url, thinking)
  const firstFrame: Array<number> = []
  const firstDelta: Array<number> = []
  for (let i = 0; i < messages; i++) {
    const conversationId = `start_${i}`
    const frame = new Promise<number>((resolve) => {
      const off = harness.on((event) => {
        if (event._tag === "Frame" && event.json.includes(`"conversationId":"${conversationId}"`)) {
          off()
          resolve(performance.now())
        }
      })
    })
    const delta = new Promise<number>((resolve) => {
      const off = harness.on((event) => {
        if (event._tag === "ReplyDelta" && event.conversationId === conversationId) {
          off()
          resolve(performance.now())
        }
      })
    })
    const completed = harness.count((event) => event._tag === "ReplyCompleted" && event.conversationId === conversationId, 1)
    await harness.run(harness.server.sendUserMessage({ conversationId, text: "Are you there?" }))
    const sentAt = performance.now()
    firstFrame.push((await frame) - sentAt)
    firstDelta.push((await delta) - firstTokenAt.get(conversationId)!)
    await completed
  }
  await close()
  await harness.close()
  const frames = firstFrame.slice(Math.floor(messages / 10))
  const deltas = firstDelta.slice(Math.floor(messages / 10))
  const stats = (samples: Array<number>) => ({ p50: percentile(samples, 50), p99: percentile(samples, 99) })
  results.start = { messages, agentThinksMs: 30, firstFrameMs: stats(frames), firstDeltaAfterFirstTokenMs: stats(deltas) }
  row("first frame after the user's last event, p50 / p99 (ms; agent still thinking)", `${fmt(percentile(frames, 50), 2)} / ${fmt(percentile(frames, 99), 2)}`, "—", "< 50 ms target")
  row("first delta after the agent's first token, p50 / p99 (ms)", `${fmt(percentile(deltas, 50), 2)} / ${fmt(percentile(deltas, 99), 2)}`, "—", "—")
}

// ---------------------------------------------------------------------------------------------
// 7. Dedupe across restarts: round trips with answered ids written to a file, against memory only
// ---------------------------------------------------------------------------------------------

const dedupe = async (messages: number) => {
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
  for (let run = 0; run < RUNS; run++) {
    memoryRates.push(await rate(Layer.empty))
    fileRates.push(await rate(DedupeStore.layerFile(join(dir, `answered-${run}.txt`))))
  }
  await harness.close()
  rmSync(dir, { recursive: true, force: true })
  const c = median(fileRates)
  const b = median(memoryRates)
  results.dedupe = { messages, fileRoundTripsPerSecond: c, memoryRoundTripsPerSecond: b, ratio: c / b }
  row("dedupe store: round trips/s, file vs memory", fmt(c), fmt(b), `${(c / b).toFixed(2)}×`)
}

// ---------------------------------------------------------------------------------------------
// 8. Echo across processes: the load server in one process, the connector (`insta-claw connect`,
//    the echo agent) or the hand-written plain-ws client in another, alternated
// ---------------------------------------------------------------------------------------------

const here = fileURLToPath(new URL(".", import.meta.url))
const TICKS_PER_SECOND = 100

/** CPU time (ms) and resident memory (MiB, now and peak) of a process, from /proc. */
const processStats = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const cpuMs = ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? "0")
  return { cpuMs, rssMiB: kib("VmRSS") / 1024, peakRssMiB: kib("VmHWM") / 1024 }
}

type EchoClient = "connector" | "baseline"

/**
 * BENCH_CPU_PROF=<dir>: the connector process writes a V8 CPU profile there (`node --cpu-prof`).
 * It then runs the CLI from its sources (the same code, module by module) rather than the bundled
 * bin, so that the profile names each function's own file.
 */
const profileFlags = process.env.BENCH_CPU_PROF === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
const connectorCli = join(here, "..", ...(process.env.BENCH_CPU_PROF === undefined ? ["dist", "cli.js"] : ["src", "cli.ts"]))
/** BENCH_CLIENT_FLAGS="--max-semi-space-size=2": Node flags for both clients (the connector and the baseline), e.g. to weigh heap settings. */
const clientFlags = process.env.BENCH_CLIENT_FLAGS?.split(" ").filter((flag) => flag !== "") ?? []

/** The load server as a child process, and one measured run of one client against it. */
const echoServer = async () => {
  const child = fork(join(here, "echo", "server.ts"), { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const messages: Array<Record<string, any>> = []
  const waiters = new Set<() => void>()
  let exited: Error | undefined
  const wakeAll = () => {
    for (const wake of [...waiters]) wake()
  }
  child.on("message", (message: Record<string, any>) => {
    messages.push(message)
    wakeAll()
  })
  child.once("exit", (code) => {
    exited = new Error(`the load server exited (${code})`)
    wakeAll()
  })
  const next = (type: string) =>
    new Promise<Record<string, any>>((resolve, reject) => {
      const check = () => {
        const index = messages.findIndex((message) => message.type === type)
        if (index === -1 && exited === undefined) return
        waiters.delete(check)
        if (index === -1) reject(exited)
        else resolve(messages.splice(index, 1)[0]!)
      }
      waiters.add(check)
      check()
    })
  const { port } = await next("listening")
  const url = `ws://127.0.0.1:${port}/user-ws/`
  const run = async (kind: EchoClient, job: Omit<EchoRun, "type">) => {
    const client = kind === "connector"
      ? spawn(process.execPath, [...clientFlags, ...profileFlags, connectorCli, "connect"], {
        stdio: ["ignore", "ignore", "inherit"],
        env: { ...process.env, INSTACLAW_WS_URL: url, INSTACLAW_CLIENT_ID: "demo", INSTACLAW_CLIENT_SECRET: "demo-secret" }
      })
      : spawn(process.execPath, [...clientFlags, join(here, "echo", "baseline.ts"), url], { stdio: ["ignore", "ignore", "inherit"] })
    const exited = new Promise<void>((resolve) => client.once("exit", () => resolve()))
    try {
      child.send({ type: "run", ...job })
      await next("started")
      const before = processStats(client.pid!)
      let peakRssMiB = before.rssMiB
      const sampler = setInterval(() => {
        peakRssMiB = Math.max(peakRssMiB, processStats(client.pid!).rssMiB)
      }, 250)
      const done = await next("done")
      clearInterval(sampler)
      const after = processStats(client.pid!)
      if (done.roundTrips !== job.messages || done.mismatches !== 0) throw new Error(`${kind}: ${JSON.stringify(done)}`)
      return {
        roundTripsPerSecond: done.roundTrips / done.seconds,
        cpuMsPerRoundTrip: (after.cpuMs - before.cpuMs) / done.roundTrips,
        cpuShare: (after.cpuMs - before.cpuMs) / 1000 / done.seconds,
        serverCpuShare: done.serverCpuMs / 1000 / done.seconds,
        rssMiB: after.rssMiB,
        peakRssMiB: Math.max(peakRssMiB, after.rssMiB)
      }
    } finally {
      client.kill("SIGTERM")
      await exited
    }
  }
  return {
    run,
    close: async () => {
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      child.disconnect()
      await gone
    }
  }
}

const echo = async (messages: number) => {
  const server = await echoServer()
  const job = { messages, conversations: 10, text: "twenty chars, hello!", window: 200 }
  const runs: Record<EchoClient, Array<Awaited<ReturnType<typeof server.run>>>> = { connector: [], baseline: [] }
  try {
    for (let run = 0; run < RUNS; run++) {
      // Alternate which goes first, so neither always gets the warmer machine.
      for (const kind of (run % 2 === 0 ? ["connector", "baseline"] : ["baseline", "connector"]) as Array<EchoClient>) {
        runs[kind].push(await server.run(kind, job))
      }
    }
  } finally {
    await server.close()
  }
  const pick = (kind: EchoClient, key: keyof (typeof runs)["connector"][number]) => median(runs[kind].map((r) => r[key]))
  const c = pick("connector", "roundTripsPerSecond")
  const b = pick("baseline", "roundTripsPerSecond")
  results.echo = {
    ...job,
    connector: { roundTripsPerSecond: c, cpuMsPerRoundTrip: pick("connector", "cpuMsPerRoundTrip"), cpuShare: pick("connector", "cpuShare"), serverCpuShare: pick("connector", "serverCpuShare"), peakRssMiB: pick("connector", "peakRssMiB") },
    baseline: { roundTripsPerSecond: b, cpuMsPerRoundTrip: pick("baseline", "cpuMsPerRoundTrip"), cpuShare: pick("baseline", "cpuShare"), serverCpuShare: pick("baseline", "serverCpuShare"), peakRssMiB: pick("baseline", "peakRssMiB") },
    ratio: c / b
  }
  row("echo across processes: round trips/s (target ≥ 0.8×)", fmt(c), fmt(b), `${(c / b).toFixed(2)}×`)
  const cc = pick("connector", "cpuMsPerRoundTrip")
  const bc = pick("baseline", "cpuMsPerRoundTrip")
  row("echo: client CPU per round trip (µs)", fmt(cc * 1000), fmt(bc * 1000), `${(cc / bc).toFixed(2)}×`)
  row("echo: client / load-server CPU use (share of a core)", `${fmt(pick("connector", "cpuShare"), 2)} / ${fmt(pick("connector", "serverCpuShare"), 2)}`, `${fmt(pick("baseline", "cpuShare"), 2)} / ${fmt(pick("baseline", "serverCpuShare"), 2)}`, "—")
  row("echo: client peak RSS (MiB)", fmt(pick("connector", "peakRssMiB")), fmt(pick("baseline", "peakRssMiB")), `${(pick("connector", "peakRssMiB") / pick("baseline", "peakRssMiB")).toFixed(2)}×`)
}

/** A steady 1 000 messages/s for a minute (scaled): the client's memory, not its speed. */
const paced = async (seconds: number) => {
  const server = await echoServer()
  const job = { messages: Math.round(1000 * seconds), conversations: 10, text: "twenty chars, hello!", window: 0, perSecond: 1000 }
  const runs: Record<EchoClient, Array<Awaited<ReturnType<typeof server.run>>>> = { connector: [], baseline: [] }
  try {
    for (const kind of ["connector", "baseline"] as Array<EchoClient>) runs[kind].push(await server.run(kind, job))
  } finally {
    await server.close()
  }
  const c = runs.connector[0]!
  const b = runs.baseline[0]!
  results.paced = { ...job, seconds, connector: c, baseline: b, peakRssRatio: c.peakRssMiB / b.peakRssMiB }
  row(`paced 1 000 msg/s for ${fmt(seconds)} s: client peak RSS (MiB; target ≤ 1.2×)`, fmt(c.peakRssMiB, 1), fmt(b.peakRssMiB, 1), `${(c.peakRssMiB / b.peakRssMiB).toFixed(2)}×`)
  row(`paced 1 000 msg/s: client CPU use (share of a core)`, fmt(c.cpuShare, 3), fmt(b.cpuShare, 3), `${(c.cpuShare / b.cpuShare).toFixed(2)}×`)
}

// ---------------------------------------------------------------------------------------------
// 9. Accounts: 1, 10 and 100 connections in one process (bench/echo/accounts.ts), each answering
//    a conversation; memory and CPU per account, and what an idle account costs
// ---------------------------------------------------------------------------------------------

const accountsPhase = async (replies: number, idleSeconds: number) => {
  const harness = await serverHarness()
  // A short heartbeat, so the idle cost is measurable in seconds; it scales to the default 30 s.
  const heartbeatMillis = 1000
  const out: Record<string, unknown> = {}
  for (const accounts of [1, 10, 100]) {
    const child = fork(join(here, "echo", "accounts.ts"), [harness.server.url, String(accounts), String(heartbeatMillis)], {
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    const reply = (type: string) => new Promise<Record<string, any>>((resolve) => {
      const listener = (message: Record<string, any>) => {
        if (message.type !== type) return
        child.off("message", listener)
        resolve(message)
      }
      child.on("message", listener)
    })
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    const measure = async () => {
      const answer = reply("usage")
      child.send({ type: "measure" })
      return answer
    }
    await reply("ready")
    const idleStart = await measure()
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000))
    const idleEnd = await measure()
    // Busy: every message reaches every account (the server sends to all), each answers it; the
    // same number of replies in total at each size.
    const messages = Math.max(5, Math.ceil(replies / accounts))
    const start = performance.now()
    const done = harness.count((event) => event._tag === "ReplyCompleted", messages * accounts)
    for (let i = 0; i < messages; i++) await harness.run(harness.server.sendUserMessage({ conversationId: "conv_scale", text: `message ${i} says hello` }))
    await done
    const seconds = (performance.now() - start) / 1000
    const busyEnd = await measure()
    child.disconnect()
    await exited
    const figures = {
      rssMiB: idleStart.rssMiB,
      heapMiB: idleStart.heapMiB,
      /** The whole process while all accounts sit idle (heartbeats, sweeps, timers). */
      idleCpuMsPerSecond: (idleEnd.cpuMs - idleStart.cpuAfterGcMs) / idleSeconds,
      repliesPerSecond: (messages * accounts) / seconds,
      cpuPerReplyMs: (busyEnd.cpuMs - idleEnd.cpuAfterGcMs) / (messages * accounts)
    }
    out[accounts] = figures
    row(
      `accounts ${accounts}: RSS / heap (MiB); idle process CPU (ms/s); CPU per reply (µs)`,
      `${fmt(figures.rssMiB)} / ${fmt(figures.heapMiB, 1)}; ${fmt(figures.idleCpuMsPerSecond, 2)}; ${fmt(figures.cpuPerReplyMs * 1000)}`,
      "—",
      "—"
    )
  }
  await harness.close()
  const one = out[1] as { rssMiB: number; heapMiB: number; idleCpuMsPerSecond: number }
  const hundred = out[100] as { rssMiB: number; heapMiB: number; idleCpuMsPerSecond: number }
  // What each account adds: the slope from 1 to 100 accounts.
  const perAccount = {
    rssMiB: (hundred.rssMiB - one.rssMiB) / 99,
    heapMiB: (hundred.heapMiB - one.heapMiB) / 99,
    idleCpuMicrosPerSecond: ((hundred.idleCpuMsPerSecond - one.idleCpuMsPerSecond) / 99) * 1000
  }
  results.accounts = { replies, idleSeconds, heartbeatMillis, byAccounts: out, perAccount }
  row("each account adds: RSS / heap (MiB)", `${fmt(perAccount.rssMiB, 2)} / ${fmt(perAccount.heapMiB, 2)}`, "—", "—")
  // With a heartbeat every second, an idle account's CPU per second is its cost per heartbeat.
  const perHeartbeat = perAccount.idleCpuMicrosPerSecond * (heartbeatMillis / 1000)
  results.accounts = { ...(results.accounts as object), idleCpuMicrosPerHeartbeat: perHeartbeat, idleCpuMicrosPerSecondAt30s: perHeartbeat / 30 }
  row("each idle account: CPU per heartbeat (µs); per second at the default 30 s heartbeat", `${fmt(perHeartbeat)}; ${fmt(perHeartbeat / 30, 1)}`, "—", "—")
}

// ---------------------------------------------------------------------------------------------

const main = async () => {
  console.log(`insta-claw-connector benchmark — ${RUNS} runs per figure, scale ${SCALE}, ${process.version}\n`)
  if (phase("outbound")) await outbound("short (20 chars)", "x".repeat(20), n(2000))
  if (phase("outbound")) await outbound("long (4 KiB)", "y".repeat(4096), n(200))
  if (phase("inbound")) inbound(n(5000))
  if (phase("latency")) await latency(n(2000))
  if (phase("start")) await start(n(200))
  if (phase("memory")) await memory(n(100_000), n(10_000))
  if (phase("recovery")) await recovery(Math.max(2, Math.round(5 * Math.min(1, SCALE * 4))))
  if (phase("scale")) await scale(n(3000))
  if (phase("dedupe")) await dedupe(n(3000))
  if (phase("echo")) await echo(n(20_000))
  if (phase("paced")) await paced(Math.max(1, Math.round(60 * SCALE)))
  if (phase("accounts")) await accountsPhase(n(2000), Math.max(2, Math.round(10 * SCALE)))

  const widths = [0, 1, 2, 3].map((i) => Math.max(...[["figure", "connector", "baseline", "ratio"], ...rows].map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ")
  console.log(line(["figure", "connector", "baseline", "ratio"]))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  for (const r of rows) console.log(line(r))
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
  const file = new URL(`./results/bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`, import.meta.url)
  writeFileSync(file, JSON.stringify(results, null, 2))
  console.log(`\nJSON: ${file.pathname}`)
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})

/**
 * Accounts: 1, 10 and 100 connections in one process (bench/echo/accounts.ts), each an
 * `InstaClaw` layer answering the reference server's messages (echo agent): RSS and heap, the
 * idle process's CPU, CPU per reply; then what each account adds (the slope from 1 to 100) and
 * an idle account's CPU per heartbeat. No baseline: the sizes are compared with each other.
 */
import { fork } from "node:child_process"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { fmt, type PhaseResult, type Row } from "../report.ts"
import { serverHarness } from "../support.ts"

const accountsScript = fileURLToPath(new URL("../echo/accounts.ts", import.meta.url))
/** A short heartbeat, so the idle cost is measurable in seconds; it scales to the default 30 s. */
const HEARTBEAT_MILLIS = 1000

interface AccountFigures {
  readonly rssMiB: number
  readonly heapMiB: number
  /** The whole process while all accounts sit idle (heartbeats, sweeps, timers). */
  readonly idleCpuMsPerSecond: number
  readonly repliesPerSecond: number
  readonly cpuPerReplyMs: number
}

/** The accounts process for one size: forked, measured idle and busy, then stopped. */
const measureAccounts = async (harness: Awaited<ReturnType<typeof serverHarness>>, accounts: number, replies: number, idleSeconds: number): Promise<AccountFigures> => {
  const child = fork(accountsScript, [harness.server.url, String(accounts), String(HEARTBEAT_MILLIS)], {
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
  return {
    rssMiB: idleStart.rssMiB,
    heapMiB: idleStart.heapMiB,
    idleCpuMsPerSecond: (idleEnd.cpuMs - idleStart.cpuAfterGcMs) / idleSeconds,
    repliesPerSecond: (messages * accounts) / seconds,
    cpuPerReplyMs: (busyEnd.cpuMs - idleEnd.cpuAfterGcMs) / (messages * accounts)
  }
}

export const accounts = async (replies: number, idleSeconds: number): Promise<PhaseResult> => {
  const harness = await serverHarness()
  const out: Record<number, AccountFigures> = {}
  const rows: Array<Row> = []
  for (const size of [1, 10, 100]) {
    const figures = await measureAccounts(harness, size, replies, idleSeconds)
    out[size] = figures
    rows.push([
      `accounts ${size}: RSS / heap (MiB); idle process CPU (ms/s); CPU per reply (µs)`,
      `${fmt(figures.rssMiB)} / ${fmt(figures.heapMiB, 1)}; ${fmt(figures.idleCpuMsPerSecond, 2)}; ${fmt(figures.cpuPerReplyMs * 1000)}`,
      "—",
      "—"
    ])
  }
  await harness.close()
  const one = out[1]!
  const hundred = out[100]!
  // What each account adds: the slope from 1 to 100 accounts.
  const perAccount = {
    rssMiB: (hundred.rssMiB - one.rssMiB) / 99,
    heapMiB: (hundred.heapMiB - one.heapMiB) / 99,
    idleCpuMicrosPerSecond: ((hundred.idleCpuMsPerSecond - one.idleCpuMsPerSecond) / 99) * 1000
  }
  // With a heartbeat every second, an idle account's CPU per second is its cost per heartbeat.
  const perHeartbeat = perAccount.idleCpuMicrosPerSecond * (HEARTBEAT_MILLIS / 1000)
  rows.push(
    ["each account adds: RSS / heap (MiB)", `${fmt(perAccount.rssMiB, 2)} / ${fmt(perAccount.heapMiB, 2)}`, "—", "—"],
    ["each idle account: CPU per heartbeat (µs); per second at the default 30 s heartbeat", `${fmt(perHeartbeat)}; ${fmt(perHeartbeat / 30, 1)}`, "—", "—"]
  )
  return {
    json: {
      accounts: { replies, idleSeconds, heartbeatMillis: HEARTBEAT_MILLIS, byAccounts: out, perAccount, idleCpuMicrosPerHeartbeat: perHeartbeat, idleCpuMicrosPerSecondAt30s: perHeartbeat / 30 }
    },
    rows
  }
}

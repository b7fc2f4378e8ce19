/**
 * Parts for protocol v2's load tests (`test/load/v2.load.test.ts`): the reference server in the
 * test's process with a recorder of what it saw — each completed reply counted by its text, each
 * ack, hello, redelivery and link — and `insta-claw connect` in child processes, as a user runs
 * it. Every wait is bounded and, when it gives up, says what it waited for and what was recorded.
 *
 * Gotchas: the recorder counts a reply by its text (the echo agent answers with the user's text),
 * so the messages of one test need distinct texts.
 */
import { Effect, Fiber, ManagedRuntime, Stream } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { ReferenceServer, type ReferenceServerOptions, type ServerEvent, type UserMessage } from "../../src/server/ReferenceServer.ts"

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url))

/** What the server saw, from the recorder's start. */
export interface Recorded {
  /** Completed replies per text. */
  readonly replies: Map<string, number>
  /** Completed replies in all (a text answered twice counts twice). */
  replyTotal: number
  /** Messages whose ack settled them (the server had kept them until then). */
  readonly settled: Set<string>
  /** Acks of every kind, settling or not (an ack of a redelivery already settled does not). */
  acks: number
  hellos: number
  connected: number
  disconnected: number
  /** Messages written again to a new link after its hello, summed over links. */
  redelivered: number
  /** The last count of messages waiting for an ack. */
  unacknowledged: number
}

/** One line for failure messages and logs. */
export const summary = (recorded: Recorded) =>
  JSON.stringify({
    answered: recorded.replies.size,
    replyTotal: recorded.replyTotal,
    settled: recorded.settled.size,
    acks: recorded.acks,
    hellos: recorded.hellos,
    connected: recorded.connected,
    disconnected: recorded.disconnected,
    redelivered: recorded.redelivered,
    unacknowledged: recorded.unacknowledged
  })

const record = (recorded: Recorded, event: ServerEvent): boolean => {
  switch (event._tag) {
    case "ReplyCompleted":
      recorded.replies.set(event.text, (recorded.replies.get(event.text) ?? 0) + 1)
      recorded.replyTotal++
      return true
    case "Acked":
      recorded.acks++
      if (event.settled) recorded.settled.add(event.responseId)
      return true
    case "Hello":
      recorded.hellos++
      return true
    case "ClientConnected":
      recorded.connected++
      return true
    case "ClientDisconnected":
      recorded.disconnected++
      return true
    case "Redelivered":
      recorded.redelivered += event.responseIds.length
      return true
    case "Unacknowledged":
      recorded.unacknowledged = event.count
      return true
    default:
      return false
  }
}

/**
 * The reference server (port 0) in this process, with its recorder. `close` stops both; call it
 * in `afterEach` (it is safe to call twice).
 */
export const startRecordedServer = async (options: ReferenceServerOptions = {}) => {
  const runtime = ManagedRuntime.make(ReferenceServer.layer({ port: 0, ...options }))
  const server = await runtime.runPromise(Effect.gen(function*() {
    return yield* ReferenceServer
  }))
  const recorded: Recorded = {
    replies: new Map(),
    replyTotal: 0,
    settled: new Set(),
    acks: 0,
    hellos: 0,
    connected: 0,
    disconnected: 0,
    redelivered: 0,
    unacknowledged: 0
  }
  const waiters = new Set<() => void>()
  const recorder = runtime.runFork(
    Stream.runForEach(server.events, (event) =>
      Effect.sync(() => {
        if (record(recorded, event)) for (const check of [...waiters]) check()
      }))
  )
  // Let the recorder subscribe before anything can happen.
  await runtime.runPromise(Effect.yieldNow)

  /** Resolves once `done(recorded)` holds; rejects after `timeoutMillis`, saying what it waited for. */
  const waitUntil = (what: string, done: (recorded: Recorded) => boolean, timeoutMillis: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!done(recorded)) return
        waiters.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`Gave up after ${timeoutMillis} ms waiting for ${what}: ${summary(recorded)}`))
      }, timeoutMillis)
      waiters.add(check)
      check()
    })

  let closed = false
  return {
    server,
    recorded,
    waitUntil,
    /**
     * Sends the messages, `concurrency` at a time (one fiber each, none waiting for a reply);
     * resolves with their response ids, in order, once every frame is written or kept.
     */
    sendAll: (messages: ReadonlyArray<UserMessage>, concurrency: number | "unbounded" = "unbounded") =>
      runtime.runPromise(Effect.forEach(messages, (message) => server.sendUserMessage(message), { concurrency })),
    run: <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect),
    close: async () => {
      if (closed) return
      closed = true
      for (const check of [...waiters]) waiters.delete(check)
      await runtime.runPromise(Fiber.interrupt(recorder))
      await runtime.dispose()
    }
  }
}

export type RecordedServer = Awaited<ReturnType<typeof startRecordedServer>>

/** Every child started by `startConnect`, until `killAll`. */
const running = new Set<ChildProcess>()

/** SIGKILLs every child still running (for `afterEach`). */
export const killAll = () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  running.clear()
}

/**
 * `node src/cli.ts connect --dedupe-file <dedupeFile>` against `url` as `demo`/`demo-secret`
 * (the reference server's default account), with the echo agent. `stop(signal)` sends the signal
 * and resolves with how the process ended, or rejects after `timeoutMillis`.
 */
export const startConnect = (url: string, dedupeFile: string, env: Record<string, string> = {}) => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("INSTACLAW_")))
  const child = spawn(process.execPath, [cli, "connect", "--dedupe-file", dedupeFile], {
    env: { ...clean, INSTACLAW_WS_URL: url, INSTACLAW_CLIENT_ID: "demo", INSTACLAW_CLIENT_SECRET: "demo-secret", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  running.add(child)
  let output = ""
  const keep = (chunk: Buffer) => (output = (output + chunk).slice(-6000))
  child.stdout!.on("data", keep)
  child.stderr!.on("data", keep)
  const exited = new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  const stop = async (signal: NodeJS.Signals, timeoutMillis = 15_000) => {
    child.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connect did not exit within ${timeoutMillis} ms of ${signal}:\n${output}`)), timeoutMillis)
    })
    try {
      return await Promise.race([exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
  return { child, exited, stop, output: () => output }
}

/** A seeded pseudo-random generator (mulberry32): the same seed gives the same numbers in [0, 1). */
export const seededRandom = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

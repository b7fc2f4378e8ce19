/**
 * The cross-process phases' machinery (echo, paced, burst): a load server forked as its own
 * process and driven over IPC, and the client under test spawned as another — the connector as
 * users get it (`insta-claw connect`, the built bin, echo agent) or the hand-written baseline
 * (bench/echo/baseline.ts); or, for the OpenClaw plugin entry, a minimal OpenClaw host
 * (bench/echo/pluginHost.ts) running the built entry ("plugin") or the same baseline client
 * ("pluginBaseline") — with their CPU time and memory read from /proc.
 *
 * Every wait can be bounded: `next` takes a timeout, and stopping a process escalates to SIGKILL
 * if it does not exit in time, so a stuck child never hangs the bench.
 */
import { type ChildProcess, fork, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * "connector" and "baseline" are the command line and the hand-written client; "plugin" and
 * "pluginBaseline" are the plugin entry and the hand-written client, each in the same minimal
 * OpenClaw host, so the OpenClaw SDK the host loads is in both.
 */
export type ClientKind = "connector" | "baseline" | "plugin" | "pluginBaseline"

const here = fileURLToPath(new URL(".", import.meta.url))
const TICKS_PER_SECOND = 100

/** CPU time (ms) and resident memory (MiB, now and peak) of a process, from /proc. */
export const processStats = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const cpuMs = ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? "0")
  return { cpuMs, rssMiB: kib("VmRSS") / 1024, peakRssMiB: kib("VmHWM") / 1024 }
}

/**
 * BENCH_CPU_PROF=<dir>: the connector process writes a V8 CPU profile there (`node --cpu-prof`).
 * It then runs the CLI from its sources (the same code, module by module) rather than the bundled
 * bin, so that the profile names each function's own file.
 */
const profileFlags = process.env.BENCH_CPU_PROF === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
/**
 * How long a child gets to exit after SIGTERM (or its IPC channel closing) before SIGKILL; longer
 * when profiling, since a connector killed before it exits writes no profile.
 */
const EXIT_GRACE_MS = process.env.BENCH_CPU_PROF === undefined ? 10_000 : 30_000
const connectorCli = join(here, "..", ...(process.env.BENCH_CPU_PROF === undefined ? ["dist", "cli.js"] : ["src", "cli.ts"]))
/**
 * BENCH_BASELINE_CLI=<another build's dist/cli.js>: that build's `insta-claw connect` stands in for
 * the hand-written baseline, so the ratios compare two versions of the connector in one run (what a
 * change costs; e.g. a worktree of an earlier commit, built with `npm run build`).
 */
const baselineCli = process.env.BENCH_BASELINE_CLI
/** The minimal OpenClaw host: `node pluginHost.ts <url> plugin|baseline`. */
const pluginHost = join(here, "echo", "pluginHost.ts")
/**
 * BENCH_CLIENT_FLAGS="--max-semi-space-size=2": Node flags for both clients (the connector and the
 * baseline), e.g. to weigh heap settings. Not for the plugin hosts: a plugin cannot give the
 * OpenClaw host it runs in Node flags.
 */
const clientFlags = process.env.BENCH_CLIENT_FLAGS?.split(" ").filter((flag) => flag !== "") ?? []

/** Resolves when the child has exited; SIGKILL if it has not within the grace period. */
const exitOf = (child: ChildProcess) => {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
  })
  return {
    exited,
    /** Waits for the exit that `start` asks for, killing the child if it does not come. */
    stop: async (start: () => void) => {
      start()
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL")
          resolve()
        }, EXIT_GRACE_MS)
      })
      await Promise.race([exited, late])
      clearTimeout(timer)
      await exited
    }
  }
}

export interface Client {
  readonly pid: number
  /** Whatever the client wrote to stderr, when spawned with `stderr: "keep"` (its last 200 lines). */
  readonly stderrLines: () => ReadonlyArray<string>
  /** Resolves when the client has exited by itself (or been stopped). */
  readonly exited: Promise<void>
  /** SIGTERM, then SIGKILL if it does not exit. */
  readonly stop: () => Promise<void>
}

/**
 * Spawns one client against `url`. Its stderr is passed through (`inherit`, as the echo phase
 * always did) or kept for the caller (`keep`: the burst phase quotes the connector's warnings).
 */
export const spawnClient = (kind: ClientKind, url: string, stderr: "inherit" | "keep" = "inherit"): Client => {
  const stdio: ["ignore", "ignore", "inherit" | "pipe"] = ["ignore", "ignore", stderr === "keep" ? "pipe" : "inherit"]
  const connectorEnv = { ...process.env, INSTACLAW_WS_URL: url, INSTACLAW_CLIENT_ID: "demo", INSTACLAW_CLIENT_SECRET: "demo-secret" }
  const child = kind === "connector"
    ? spawn(process.execPath, [...clientFlags, ...profileFlags, connectorCli, "connect"], { stdio, env: connectorEnv })
    : kind === "plugin" || kind === "pluginBaseline"
    ? spawn(process.execPath, [pluginHost, url, kind === "plugin" ? "plugin" : "baseline"], { stdio })
    : baselineCli !== undefined
    ? spawn(process.execPath, [...clientFlags, baselineCli, "connect"], { stdio, env: connectorEnv })
    : spawn(process.execPath, [...clientFlags, join(here, "echo", "baseline.ts"), url], { stdio })
  const lines: Array<string> = []
  let partial = ""
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n")
    partial = parts.pop()!
    lines.push(...parts)
    if (lines.length > 200) lines.splice(0, lines.length - 200)
  })
  const exit = exitOf(child)
  return {
    pid: child.pid!,
    stderrLines: () => (partial === "" ? lines : [...lines, partial]),
    exited: exit.exited,
    stop: () => exit.stop(() => child.kill("SIGTERM"))
  }
}

/** Waits for a run to start, failing at once if the client exits first (e.g. it could not start). */
export const startedOrExited = async <A>(started: Promise<A>, client: Client, kind: ClientKind): Promise<A> => {
  const exited = client.exited.then(() => Promise.reject(new Error(`the ${kind} exited before it connected`)))
  // The one that loses the race settles later, unobserved.
  started.catch(() => {})
  exited.catch(() => {})
  return Promise.race([started, exited])
}

export type IpcMessage = Record<string, any>

export interface NextOptions {
  readonly id?: string
  readonly timeout?: { readonly ms: number; readonly what: string }
}

export interface LoadServer {
  /** The WebSocket URL the clients dial. */
  readonly url: string
  readonly send: (message: IpcMessage) => void
  /**
   * The next IPC message of this type (kept if it came earlier), and of run `id` if given. Fails
   * if the server exits, or after `timeout.ms` with `Timed out after … s: <what>`.
   */
  readonly next: (type: string, options?: NextOptions) => Promise<IpcMessage>
  /** Closes the IPC channel (the server then closes its sockets and exits). */
  readonly close: () => Promise<void>
}

/** Forks a load server (bench/echo/server.ts, bench/burst/server.ts) and waits for its port. */
export const forkLoadServer = async (script: string): Promise<LoadServer> => {
  const child = fork(join(here, script), { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const messages: Array<IpcMessage> = []
  const waiters = new Set<() => void>()
  let exited: Error | undefined
  const wakeAll = () => {
    for (const wake of [...waiters]) wake()
  }
  child.on("message", (message: IpcMessage) => {
    messages.push(message)
    wakeAll()
  })
  child.once("exit", (code) => {
    exited = new Error(`the load server ${script} exited (${code})`)
    wakeAll()
  })
  const next: LoadServer["next"] = (type, { id, timeout } = {}) =>
    new Promise<IpcMessage>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const check = () => {
        const index = messages.findIndex((message) => message.type === type && (id === undefined || message.id === id))
        if (index === -1 && exited === undefined) return
        waiters.delete(check)
        clearTimeout(timer)
        if (index === -1) reject(exited)
        else resolve(messages.splice(index, 1)[0]!)
      }
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`Timed out after ${timeout.ms / 1000} s: ${timeout.what}`))
        }, timeout.ms)
      }
      waiters.add(check)
      check()
    })
  const { port } = await next("listening", { timeout: { ms: 30_000, what: `the load server ${script} did not start listening` } })
  const exit = exitOf(child)
  return {
    url: `ws://127.0.0.1:${port}/user-ws/`,
    send: (message) => child.send(message),
    next,
    close: () => exit.stop(() => child.connected && child.disconnect())
  }
}

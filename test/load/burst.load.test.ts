/**
 * A burst from a standard server: a plain `ws` server with default options, in its own process
 * (`test/support/burstServer.ts`), writes thousands of user messages at once to `insta-claw
 * connect`, itself a separate process, as a user runs it. Every message must be answered exactly
 * once on the first link: no drop, no reconnect, nothing lost or doubled.
 *
 * Before the connector kept at most one confirmation ping in flight, the server's pongs waited
 * behind megabytes of its own unread frames, `ws` terminated the link for too many pending pongs
 * (`maxPendingAutoPongs`), and the messages in flight were lost.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"
import { afterEach, assert, describe, it } from "vitest"

const server = fileURLToPath(new URL("../support/burstServer.ts", import.meta.url))
const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url))

const running = new Set<ChildProcess>()
afterEach(() => {
  for (const child of running) child.kill("SIGKILL")
  running.clear()
})

const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("INSTACLAW_")))
  const child = spawn(process.execPath, args, { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  running.add(child)
  let stderr = ""
  child.stderr!.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)))
  const lines = readline.createInterface({ input: child.stdout! })
  const nextJson = () =>
    new Promise<Record<string, number>>((resolve, reject) => {
      const onLine = (line: string) => {
        if (!line.startsWith("{")) return
        lines.off("line", onLine)
        resolve(JSON.parse(line))
      }
      lines.on("line", onLine)
      child.once("exit", (code) => reject(new Error(`${args[0]} exited (${code}) before its result:\n${stderr}`)))
    })
  return { child, nextJson, stderr: () => stderr }
}

const burst = async (messages: number) => {
  const burstServer = start([server, String(messages), "50"])
  const { port } = await burstServer.nextJson()
  const result = burstServer.nextJson()
  const connector = start([cli, "connect"], {
    INSTACLAW_WS_URL: `ws://127.0.0.1:${port}/user-ws/`,
    INSTACLAW_CLIENT_ID: "burst-app",
    INSTACLAW_CLIENT_SECRET: "burst-secret-71c"
  })
  const outcome = await result
  connector.child.kill("SIGTERM")
  return { outcome, log: connector.stderr() }
}

describe("a burst from a plain ws server in another process", () => {
  for (const messages of [5_000, 20_000]) {
    it(`${messages} messages written at once: each answered exactly once, on the first link`, async () => {
      const { log, outcome } = await burst(messages)
      const summary = `${JSON.stringify(outcome)}\n${log}`
      assert.strictEqual(outcome.closes, 0, `the link stayed up: ${summary}`)
      assert.strictEqual(outcome.connections, 1, `no reconnect: ${summary}`)
      assert.strictEqual(outcome.answered, messages, `every message answered: ${summary}`)
      assert.strictEqual(outcome.duplicates, 0, `none answered twice: ${summary}`)
    }, 120_000)
  }
})

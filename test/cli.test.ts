/**
 * The `insta-claw` command line, run as real child processes (on the project's Node), against
 * the reference server on 127.0.0.1. Every process started here is waited for.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Queue } from "effect"
import { Buffer } from "node:buffer"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { ReferenceServer } from "../src/server/ReferenceServer.ts"
import { waitFor } from "./support/harness.ts"
import { wsServer } from "./support/wsServer.ts"

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url))

interface Run {
  readonly child: ChildProcess
  /** stdout and stderr as they came, interleaved. */
  readonly output: () => string
  /** stdout alone: what the command prints for a person, without the log lines of stderr. */
  readonly stdout: () => string
  /**
   * Succeeds once the output includes `text`; fails after 5 s saying what did not appear. The
   * output comes through its own pipe: what the command printed before a frame it sent may reach
   * this process after that frame.
   */
  readonly printed: (text: string) => Effect.Effect<void>
  readonly exited: Promise<number | null>
}

/** Starts the CLI; killed at the end of the scope if still running. */
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): Run => {
      const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("INSTACLAW_")))
      const child = spawn(process.execPath, [cli, ...args], { env: { ...clean, ...env }, stdio: ["pipe", "pipe", "pipe"] })
      let output = ""
      let stdout = ""
      const listeners = new Set<() => void>()
      const heard = () => {
        for (const listener of [...listeners]) listener()
      }
      child.stdout!.on("data", (chunk) => {
        output += chunk
        stdout += chunk
        heard()
      })
      child.stderr!.on("data", (chunk) => {
        output += chunk
        heard()
      })
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      const printed = (text: string) =>
        Effect.callback<void>((resume) => {
          const check = () => {
            if (!output.includes(text)) return
            listeners.delete(check)
            resume(Effect.void)
          }
          listeners.add(check)
          check()
          return Effect.sync(() => listeners.delete(check))
        }).pipe(Effect.timeoutOrElse({
          duration: "5 seconds",
          orElse: () => Effect.die(new Error(`the command did not print ${JSON.stringify(text)} within 5 seconds; it printed:\n${output}`))
        }))
      return { child, output: () => output, stdout: () => stdout, printed, exited }
    }),
    ({ child, exited }) => Effect.promise(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      return exited
    })
  )

describe("insta-claw CLI", () => {
  it.live("demo: every scripted reply streams back complete, then exits 0", () =>
    Effect.gen(function*() {
      const demo = yield* run(["demo"])
      const code = yield* Effect.promise(() => demo.exited)
      assert.strictEqual(code, 0, demo.output())
      // stdout alone: a log line on stderr may land in the middle of a reply's line.
      const output = demo.stdout()
      assert.include(output, "echo  ‹ Hello! Is anybody out there?")
      assert.include(output, "        - and streams the reply back as Open Responses events.")
      assert.include(output, "echo  ‹ Unicode survives the trip: 你好，世界 😀 👩‍👩‍👧 ¡Olé!")
      assert.include(output, "3 of 3 replies came back complete.")
      // One image round trip, served by the demo's own server on 127.0.0.1.
      assert.match(output, /you   › Here is a picture\.\n        \[image http:\/\/127\.0\.0\.1:\d+\/media\/[\w-]+ "pixel\.png"\]/)
      assert.match(output, /echo  ‹ Here is a picture\.\n        \[image http:\/\/127\.0\.0\.1:\d+\/media\/[\w-]+\]/)
      assert.include(output, "The image came back by URL: the same 70 bytes.")
    }), { timeout: 30_000 })

  it.live("connect: echoes a message sent by the server; SIGTERM closes with 1000 and exits 0", () =>
    Effect.gen(function*() {
      const server = Context.get(yield* Layer.build(ReferenceServer.layer({ port: 0, clientId: "cli", clientSecret: "cli-secret-77" })), ReferenceServer)
      const events = yield* server.subscribe
      const connect = yield* run(["connect"], {
        INSTACLAW_WS_URL: server.url,
        INSTACLAW_CLIENT_ID: "cli",
        INSTACLAW_CLIENT_SECRET: "cli-secret-77",
        INSTACLAW_DEBUG: "true"
      })
      yield* waitFor(events, "ClientConnected")
      yield* server.sendUserMessage({ conversationId: "conv_cli", text: "typed on the server ✓" })
      const reply = yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual([reply.conversationId, reply.text], ["conv_cli", "typed on the server ✓"])
      // A message with media: connect prints each medium (never its bytes) and echoes it.
      const image = yield* server.putMedia(Buffer.from("89504e470d0a1a0a", "hex"), "image/png")
      const inline = `data:image/png;base64,${Buffer.from("89504e470d0a1a0a00", "hex").toString("base64")}`
      yield* server.sendUserMessage({ conversationId: "conv_cli", text: "two", media: [{ kind: "image", url: image }, { kind: "image", url: inline }] })
      const withMedia = yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual(withMedia.media?.map((media) => media.url), [image, inline])
      yield* connect.printed(`[image ${image}] from conv_cli in conv_cli`)
      yield* connect.printed("[image a data: URL (image/png, 9 bytes) image/png] from conv_cli in conv_cli")
      assert.notInclude(connect.output(), inline.slice("data:image/png;base64,".length))
      connect.child.kill("SIGTERM")
      assert.strictEqual((yield* waitFor(events, "ClientDisconnected")).code, 1000)
      assert.strictEqual(yield* Effect.promise(() => connect.exited), 0)
      assert.include(connect.output(), "[DEBUG] [InstaClawConnector]")
      assert.notInclude(connect.output(), "cli-secret-77", "debug output never shows the secret")
    }), { timeout: 30_000 })

  it.live("connect: a bad config prints the sentence and exits 1", () =>
    Effect.gen(function*() {
      const connect = yield* run(["connect"], { INSTACLAW_CLIENT_ID: "cli" })
      assert.strictEqual(yield* Effect.promise(() => connect.exited), 1)
      assert.strictEqual(connect.output().trim(), "insta-claw: Missing required configuration: clientSecret must be provided and non-empty")
    }), { timeout: 30_000 })

  it.live("connect: a plain ws:// URL to another host is refused at startup", () =>
    Effect.gen(function*() {
      const connect = yield* run(["connect"], { INSTACLAW_CLIENT_ID: "cli", INSTACLAW_CLIENT_SECRET: "s", INSTACLAW_WS_URL: "ws://example.com/" })
      assert.strictEqual(yield* Effect.promise(() => connect.exited), 1)
      assert.match(connect.output(), /^insta-claw: Invalid configuration: url must be a wss:\/\/ URL/)
    }), { timeout: 30_000 })

  it.live("serve: a line on stdin goes to the connected connector and its reply is printed", () =>
    Effect.gen(function*() {
      const serve = yield* run(["serve", "--port", "0"])
      while (!/listening on (ws:\S+)/.test(serve.output())) yield* Effect.promise(() => new Promise((r) => serve.child.stdout!.once("data", r)))
      const url = /listening on (ws:\S+)/.exec(serve.output())![1]!
      const connect = yield* run(["connect", "--log-level", "debug"], { INSTACLAW_WS_URL: url, INSTACLAW_CLIENT_ID: "demo", INSTACLAW_CLIENT_SECRET: "demo-secret" })
      while (!serve.output().includes("[connector connected: demo]")) yield* Effect.promise(() => new Promise((r) => serve.child.stdout!.once("data", r)))
      serve.child.stdin!.write("hello from stdin\n")
      while (!/\[reply complete in conv_1[;\]]/.test(serve.output())) yield* Effect.promise(() => new Promise((r) => serve.child.stdout!.once("data", r)))
      assert.match(serve.output(), /hello from stdin\n\[reply complete in conv_1[;\]]/)
      connect.child.kill("SIGTERM")
      assert.strictEqual(yield* Effect.promise(() => connect.exited), 0)
      assert.include(connect.output(), "[DEBUG] [InstaClawConnector] Connection state", "--log-level debug shows DEBUG lines")
      assert.notInclude(connect.output(), "demo-secret")
      serve.child.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => serve.exited), 0)
    }), { timeout: 30_000 })

  it.live("connect: a frame over the limit, sent in 1 KB fragments, ends with 1009 reaching the server", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const connect = yield* run(["connect"], { INSTACLAW_WS_URL: server.url, INSTACLAW_CLIENT_ID: "cli", INSTACLAW_CLIENT_SECRET: "cli-secret-77" })
      const peer = yield* Queue.take(server.connections)
      for (let i = 0; i < 1100; i++) peer.socket.send("x".repeat(1024), { fin: i === 1099 })
      assert.strictEqual(yield* Effect.promise(() => peer.closed), 1009)
      while (!connect.output().includes("A frame exceeded maxFrameBytes; closed with 1009")) {
        yield* Effect.promise(() => new Promise((r) => connect.child.stderr!.once("data", r)))
      }
      connect.child.kill("SIGTERM")
      assert.strictEqual(yield* Effect.promise(() => connect.exited), 0)
    }), { timeout: 30_000 })
})

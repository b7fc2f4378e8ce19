/**
 * `insta-claw serve` shows protocol v2 at work: the hello, the messages waiting for an ack, the
 * redelivery after a reconnect and the acks that settle it; and its group lines (§8.2), refused to a
 * client without `groups`. A real child process (on the
 * project's Node) and a plain `ws` client on 127.0.0.1; every process started here is waited for.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Protocol from "../../src/Protocol.ts"
import { describeFrames, envelopeOf, plainClient } from "./client.ts"

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url))

/** `insta-claw serve --port 0`, killed at the end of the scope if still running. */
const serve = Effect.acquireRelease(
  Effect.sync(() => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("INSTACLAW_")))
    const child: ChildProcess = spawn(process.execPath, [cli, "serve", "--port", "0"], { env: clean, stdio: ["pipe", "pipe", "pipe"] })
    let output = ""
    child.stdout!.on("data", (chunk) => (output += chunk))
    child.stderr!.on("data", (chunk) => (output += chunk))
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    /** Waits until the output contains `text`. */
    const until = (text: string) =>
      Effect.promise(async () => {
        while (!output.includes(text)) await new Promise((resolve) => child.stdout!.once("data", resolve))
      }).pipe(Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die(new Error(`No "${text}" in:\n${output}`)) }))
    return { child, output: () => output, exited, until }
  }),
  ({ child, exited }) =>
    Effect.promise(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      return exited
    })
)

const responseIdOf = (frame: string) => (envelopeOf(frame) as Protocol.MessageEnvelope).data.response_id!

describe("insta-claw serve, protocol v2", () => {
  it.live("shows the hello, the count of messages waiting for an ack, the redelivery and the acks", () =>
    Effect.gen(function*() {
      const server = yield* serve
      yield* server.until("listening on ws:")
      const url = /listening on (ws:\S+)/.exec(server.output())![1]!

      const first = yield* plainClient(url, { hello: ["ack"] })
      yield* server.until("[demo speaks protocol v2, features: ack; 0 messages waiting for an ack]")
      server.child.stdin!.write("first\n")
      const [hello, created] = yield* first.take(2)
      assert.strictEqual(envelopeOf(hello!).type, "hello")
      const firstId = responseIdOf(created!)
      yield* first.take(7)
      yield* first.close
      yield* server.until("[connector disconnected: close code 1000; 1 message waiting for an ack]")

      server.child.stdin!.write("second\n")
      yield* server.until("[kept for conv_1: goes out after the connector's next hello; 2 messages waiting for an ack]")

      const second = yield* plainClient(url, { hello: ["ack"] })
      const frames = yield* second.take(1 + 18)
      const secondId = responseIdOf(frames[10]!)
      assert.deepStrictEqual(describeFrames(frames).map((line) => line.split(" ").pop()), ["hello", ...Array(9).fill(firstId), ...Array(9).fill(secondId)])
      yield* server.until("[sent 2 messages again to demo; 2 messages waiting for an ack]")
      yield* second.ack(firstId)
      yield* server.until("[demo acknowledged a message sent again; 1 message waiting for an ack]")
      yield* second.ack(secondId)
      yield* server.until("[demo acknowledged a message sent again; 0 messages waiting for an ack]")

      server.child.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => server.exited), 0)
    }), { timeout: 30_000 })

  it.live("'#grp_1 ada: text' speaks in a group, mentioned with @agent; refused, with the reason, to a client without groups", () =>
    Effect.gen(function*() {
      const server = yield* serve
      yield* server.until("listening on ws:")
      yield* server.until(`"#grp_1 ada: hello @agent" says it in group grp_1 as ada (mentioned: the text has the word @agent)`)
      const url = /listening on (ws:\S+)/.exec(server.output())![1]!

      const plain = yield* plainClient(url, { hello: ["ack"] })
      yield* server.until("features: ack;")
      server.child.stdin!.write("#grp_1 ada: hello @agent\n")
      yield* server.until(`[Not sent: client demo has not agreed on "groups" in a hello, and this message needs it;`)
      yield* plain.close

      const client = yield* plainClient(url, { hello: ["ack", "groups"] })
      yield* server.until("features: ack, groups;")
      yield* client.take(1)
      server.child.stdin!.write("#grp_1 ada: hello @agent\n")
      const headers = (envelopeOf((yield* client.take(9))[8]!) as Protocol.MessageEnvelope).headers
      assert.deepStrictEqual([headers.conversationId, headers.chatType, headers.senderId, headers.mentioned], ["grp_1", "group", "ada", true])
      server.child.stdin!.write("#grp_1 bob: no mention here\n")
      assert.isUndefined((envelopeOf((yield* client.take(9))[0]!) as Protocol.MessageEnvelope).headers.mentioned)

      server.child.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => server.exited), 0)
    }), { timeout: 30_000 })
})

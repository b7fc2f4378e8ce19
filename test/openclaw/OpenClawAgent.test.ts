/**
 * The OpenClaw agent's reply stream on its own, under `TestClock`: no sockets, a fake host whose
 * model takes its time. Pins the order of what goes out — partials as they come, blocks and the
 * final only where they add something, a /stop ending the running reply — and the frames the
 * protocol makes of it: created and in_progress first, before any text.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { AgentRequest, ReplyPiece } from "../../src/Agent.ts"
import * as OpenClawAgent from "../../src/openclaw/OpenClawAgent.ts"
import * as Protocol from "../../src/Protocol.ts"
import { decodeMessage } from "../support/frames.ts"
import { fakeRuntime } from "../support/fakeOpenClaw.ts"

const request = (text: string, conversationId = "conv_1"): AgentRequest => ({
  conversationId,
  senderId: "user_1",
  text,
  messageId: `msg_${text}`,
  responseId: `resp_${text}`
})

/** Sleeps on Effect's clock from inside the host's promise code. */
const sleeping = (run: <A>(effect: Effect.Effect<A>) => Promise<A>) => (ms: number) => run(Effect.sleep(ms))

describe("the OpenClaw agent's reply, under TestClock", () => {
  it.effect("start, partials, blocks, final: each piece once, in order, as time passes", () =>
    Effect.gen(function*() {
      const run = Effect.runPromiseWith(yield* Effect.context<never>())
      const sleep = sleeping(run)
      const host = fakeRuntime(async ({ deliver, replyOptions }) => {
        await sleep(2000) // the model thinks
        await replyOptions.onPartialReply?.({ text: "Hel" })
        await sleep(150)
        await replyOptions.onPartialReply?.({ text: "Hello" })
        await deliver({ text: "Hello" }, { kind: "block" })
        await replyOptions.onAssistantMessageStart?.()
        await sleep(150)
        await replyOptions.onPartialReply?.({ text: "again" })
        await deliver({ text: "Hello\n\nagain" }, { kind: "final" })
      })
      const agent = OpenClawAgent.make({ channel: host.channel, cfg: {}, accountId: "default" })
      const protocol = Protocol.make()
      const seen: Array<{ at: number; type: string; delta?: string }> = []
      const started = yield* TestClockNow
      const fiber = yield* Effect.forkChild(Stream.runForEach(protocol.streamReply({ conversationId: "conv_1" }, agent.reply(request("hi"))), (frame) =>
        Effect.map(TestClockNow, (now) => {
          const event = decodeMessage(frame.json).data as { type: string; delta?: string }
          seen.push({ at: now - started, type: event.type, ...(event.delta === undefined ? {} : { delta: event.delta }) })
        })))
      // Step the clock as the model would, letting the host's promise callbacks run in between.
      for (const step of [2000, 150, 150]) {
        yield* settle
        yield* TestClock.adjust(step)
        yield* settle
      }
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen.slice(0, 2).map((s) => [s.at, s.type]), [[0, "response.created"], [0, "response.in_progress"]], "at once")
      const deltas = seen.filter((s) => s.type === "response.output_text.delta")
      assert.deepStrictEqual(deltas.map((d) => [d.at, d.delta]), [[2000, "Hel"], [2150, "lo"], [2300, "\n\nagain"]])
      assert.strictEqual(seen.at(-1)!.type, "response.completed")
    }))

  it.effect("/stop ends the running reply of its conversation with AgentStopped; the /stop itself goes to the host", () =>
    Effect.gen(function*() {
      const run = Effect.runPromiseWith(yield* Effect.context<never>())
      const sleep = sleeping(run)
      const host = fakeRuntime(async ({ ctx, deliver, replyOptions }) => {
        if (ctx.Body === "/stop") return void (await deliver({ text: "Agent was aborted." }, { kind: "final" }))
        await replyOptions.onPartialReply?.({ text: "Working" })
        await sleep(60_000) // a long answer
      })
      const agent = OpenClawAgent.make({ channel: host.channel, cfg: {}, accountId: "default" })
      const pieces: Array<ReplyPiece> = []
      const running = yield* Effect.forkChild(Stream.runForEach(agent.reply(request("essay")), (piece) => Effect.sync(() => pieces.push(piece))))
      yield* TestClock.adjust("1 second")
      const stopReply = yield* Stream.runCollect(agent.reply(request("/stop")))
      const exit = yield* Fiber.await(running)
      assert.deepStrictEqual(pieces, ["Working"])
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
      assert.deepStrictEqual(Option.map(error, (e) => [e._tag, (e as { reason?: string }).reason]), Option.some(["AgentStopped", "stopped by the user"]))
      assert.deepStrictEqual(stopReply, ["Agent was aborted."])
      assert.strictEqual(host.contexts.find((c) => c.Body === "/stop")!.CommandAuthorized, true)
    }))
})

const TestClockNow = Effect.clockWith((clock) => clock.currentTimeMillis)

/** Lets pending promise callbacks (the fake host's code) run; no timer involved. */
const settle = Effect.promise(async () => {
  for (let turn = 0; turn < 5; turn++) await new Promise<void>((resolve) => setImmediate(resolve))
})

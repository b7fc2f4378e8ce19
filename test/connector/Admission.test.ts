/**
 * Before a response begins (`src/connector/Admission.ts`, used by `src/connector/Reply.ts`): the
 * agent's `admit` skips a message (nothing written, settled as delivered, a debug line with the
 * reason) or answers it as before; a conversation's order holds even when admit takes a while
 * (through `Lanes`, under both orderings); a message that replies to one of the connector's own
 * replies reaches the agent with `replyToAgent`, within a bounded memory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, FiberSet, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { Admission, AgentRequest } from "../../src/Agent.ts"
import type { ResponseWriter } from "../../src/Connection.ts"
import { makeAdmissions, makeOwnReplies } from "../../src/connector/Admission.ts"
import { makeFailures } from "../../src/connector/Failures.ts"
import { makeLanes } from "../../src/connector/Lanes.ts"
import { makeReplies } from "../../src/connector/Reply.ts"
import * as InstaLogger from "../../src/Logger.ts"
import * as Protocol from "../../src/Protocol.ts"
import { captureSink } from "../support/logs.ts"

const message = (text: string, extra: Partial<Protocol.InboundMessage> = {}): Protocol.InboundMessage => ({
  conversationId: "grp_1",
  senderId: "u1",
  responseId: `resp_in_${text}`,
  messageId: `msg_in_${text}`,
  text,
  receivedAt: 0,
  ...extra
})

/** Lets forked fibers run until they wait. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 30; i++) yield* Effect.yieldNow
})

/**
 * Replies over a fake writer that records every frame, with `admit` as given. The echo agent
 * answers each message with its own text, so a response is told by its text.
 */
const setup = (admit?: (request: AgentRequest) => Effect.Effect<Admission>) => {
  const frames: Array<{ readonly type: string; readonly responseId: string; readonly json: string }> = []
  const asked: Array<AgentRequest> = []
  const settled: Array<[string, boolean]> = []
  let marks = 0
  const logs = captureSink()
  const writer: ResponseWriter = {
    write: (batch) => Effect.sync(() => void frames.push(...batch.map(({ json, responseId, type }) => ({ type, responseId, json })))),
    finish: Effect.void,
    settle: (done) => done(),
    abandon: Effect.void
  }
  const replies = Effect.runSync(makeReplies({
    agent: {
      reply: (request) => {
        asked.push(request)
        return Stream.make(request.text)
      },
      admit
    },
    systemPrompt: undefined,
    settled: (m, delivered) => Effect.sync(() => void settled.push([m.responseId, delivered])),
    protocol: Protocol.make(),
    beginResponse: Effect.succeed(writer),
    beginAnswer: Effect.succeed(writer),
    failures: makeFailures([]),
    markOutbound: Effect.sync(() => void marks++)
  }))
  const logged = <A, E>(effect: Effect.Effect<A, E>) => Effect.provide(effect, InstaLogger.layer({ debug: true, sink: logs.sink }))
  /** The texts of the responses, in the order their `response.created` was written. */
  const begun = () =>
    frames.filter((f) => f.type === "response.created").map((created) =>
      frames.find((f) => f.responseId === created.responseId && f.type === "response.output_text.done")?.json.match(/\\"text\\":\\"([^\\]*)\\"/)?.[1] ?? "?"
    )
  /** Settles every answer written so far (the connector runs `settling` for its scope). */
  const settleAll = Effect.raceFirst(replies.idle, replies.settling)
  return { replies, frames, asked, settled, logs, logged, begun, settleAll, marks: () => marks }
}

const skipping = (reason?: string) => () => Effect.succeed<Admission>({ decision: "skip", reason })
const answering = () => Effect.succeed<Admission>({ decision: "answer" })

describe("Admission", () => {
  it.effect("a skipped message gets no frame at all, is settled as delivered (acknowledged), and the reason is logged at debug", () =>
    Effect.gen(function*() {
      const t = setup(skipping("group grp_1: not mentioned"))
      yield* t.logged(t.replies.answer(message("hello all")))
      assert.deepStrictEqual(t.frames, [], "not even response.created")
      assert.deepStrictEqual(t.asked, [], "the agent's reply is never asked for")
      assert.deepStrictEqual(t.settled, [["resp_in_hello all", true]])
      assert.strictEqual(t.marks(), 0)
      assert.isTrue(
        t.logs.lines.some((l) => l.method === "debug" && l.line.includes("Skipped message msg_in_hello all (group grp_1: not mentioned)")),
        t.logs.text()
      )
    }))

  it.effect("a skip without a reason still says so at debug", () =>
    Effect.gen(function*() {
      const t = setup(skipping())
      yield* t.logged(t.replies.answer(message("x")))
      assert.isTrue(t.logs.lines.some((l) => l.method === "debug" && /Skipped message msg_in_x$/.test(l.line)), t.logs.text())
    }))

  it.effect("an admitted message is answered as before: the whole sequence, the agent asked once, settled after", () =>
    Effect.gen(function*() {
      for (const admit of [answering, undefined]) {
        const t = setup(admit)
        yield* t.logged(t.replies.answer(message("hi")))
        assert.deepStrictEqual([t.frames[0]?.type, t.frames.at(-1)?.type], ["response.created", "response.completed"])
        assert.deepStrictEqual(t.asked.map((r) => r.text), ["hi"])
        yield* t.settleAll
        assert.deepStrictEqual(t.settled, [["resp_in_hi", true]])
        assert.strictEqual(t.marks(), 1)
      }
    }))

  it.effect("admit dying fails the response like an agent defect, without asking the agent", () =>
    Effect.gen(function*() {
      const t = setup(() => Effect.die(new Error("policy table broken")))
      yield* t.logged(t.replies.answer(message("hi")))
      assert.deepStrictEqual([t.frames[0]?.type, t.frames.at(-1)?.type], ["response.created", "response.failed"])
      assert.deepStrictEqual(t.asked, [])
    }))

  for (const ordering of ["connector", "agent"] as const) {
    it.effect(`with ordering ${ordering}, a slow admit keeps the conversation's order, and a skip in between reorders nothing`, () =>
      Effect.gen(function*() {
        // m1's admission takes 5 s; m2 is skipped at once; m3 is answered at once.
        const t = setup((request) =>
          request.text === "m1"
            ? Effect.as(Effect.sleep("5 seconds"), { decision: "answer" })
            : Effect.succeed({ decision: request.text === "m2" ? "skip" : "answer" })
        )
        const background = yield* FiberSet.make<void, never>()
        const lanes = yield* makeLanes({
          answer: (m) => t.logged(t.replies.answer(m)),
          run: (effect) => FiberSet.run(background, effect),
          ordering,
          maxConcurrent: 5,
          onWaited: () => {}
        })
        for (const text of ["m1", "m2", "m3"]) yield* lanes.enqueue(message(text))
        yield* settle
        assert.deepStrictEqual(t.begun(), [], "m3 waits for m1's admission")
        assert.deepStrictEqual(t.settled, [])
        yield* TestClock.adjust("5 seconds")
        yield* FiberSet.awaitEmpty(background)
        yield* t.settleAll
        assert.deepStrictEqual(t.begun(), ["m1", "m3"])
        assert.deepStrictEqual(t.asked.map((r) => r.text), ["m1", "m3"])
        assert.deepStrictEqual(t.settled.map(([id]) => id).sort(), ["resp_in_m1", "resp_in_m2", "resp_in_m3"])
        assert.isTrue(t.settled.every(([, delivered]) => delivered))
      }))
  }

  it.effect("a slow admission in one conversation does not hold another", () =>
    Effect.gen(function*() {
      const t = setup((request) =>
        request.conversationId === "grp_1" ? Effect.as(Effect.sleep("5 seconds"), { decision: "answer" }) : answering()
      )
      const slow = yield* Effect.forkChild(t.logged(t.replies.answer(message("slow"))))
      yield* t.logged(t.replies.answer(message("other", { conversationId: "grp_2" })))
      assert.deepStrictEqual(t.begun(), ["other"])
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(slow)
      assert.deepStrictEqual(t.begun(), ["other", "slow"])
    }))

  it.effect("a turn interrupted while it waits or decides passes on to the next message", () =>
    Effect.gen(function*() {
      const decided = yield* Deferred.make<void>()
      const admissions = makeAdmissions(() => Effect.as(Deferred.await(decided), { decision: "answer" }))
      const ran: Array<string> = []
      const use = (text: string) => () => Effect.sync(() => void ran.push(text))
      const first = yield* Effect.forkChild(admissions.inTurn(message("a"), use("a")))
      const second = yield* Effect.forkChild(admissions.inTurn(message("b"), use("b")))
      yield* settle
      assert.deepStrictEqual(ran, [])
      yield* Fiber.interrupt(first)
      yield* Deferred.succeed(decided, undefined)
      yield* Fiber.join(second)
      assert.deepStrictEqual(ran, ["b"])
    }))
})

describe("replyToAgent", () => {
  /** The response id of the reply just written for `text`. */
  const replyIdOf = (t: ReturnType<typeof setup>, text: string) =>
    t.frames.find((f) => f.type === "response.output_text.done" && f.json.includes(text))!.responseId

  it.effect("is set when the message replies to one of the connector's own replies (answers and sends), not to anyone else's", () =>
    Effect.gen(function*() {
      const t = setup()
      yield* t.logged(t.replies.answer(message("first")))
      const ours = replyIdOf(t, "first")
      const sent = yield* t.logged(t.replies.send("grp_1", "proactive"))
      yield* t.logged(t.replies.answer(message("to ours", { replyToId: ours, replyToText: "first" })))
      yield* t.logged(t.replies.answer(message("to sent", { replyToId: sent.responseId })))
      yield* t.logged(t.replies.answer(message("to a user", { replyToId: "resp_someone_else" })))
      yield* t.logged(t.replies.answer(message("to nothing")))
      const flags = t.asked.map((r) => [r.text, r.replyToAgent])
      assert.deepStrictEqual(flags, [
        ["first", undefined],
        ["to ours", true],
        ["to sent", true],
        ["to a user", undefined],
        ["to nothing", undefined]
      ])
      assert.isFalse("replyToAgent" in t.asked[3]!, "absent, not false")
      assert.strictEqual(t.asked[1]!.replyToId, ours, "the message's own replyToId stays")
    }))

  it("forgets the oldest reply ids beyond its capacity", () => {
    const own = makeOwnReplies(3)
    for (const id of ["resp_a", "resp_b", "resp_c", "resp_d"]) own.sent(id)
    const marked = (replyToId: string) => own.mark({ ...message("x"), replyToId }).replyToAgent
    assert.strictEqual(marked("resp_a"), undefined, "forgotten")
    assert.deepStrictEqual(["resp_b", "resp_c", "resp_d"].map(marked), [true, true, true])
  })
})

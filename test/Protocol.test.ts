import { assert, describe, it } from "@effect/vitest"
import { type Cause, Effect, Fiber, Layer, Queue, Random, Result, Stream } from "effect"
import { ConnectorConfig } from "../src/Config.ts"
import { TestClock } from "effect/testing"
import { RecentIds } from "../src/internal/recent.ts"
import * as Protocol from "../src/Protocol.ts"
import { collectReply, decodeMessage, envelope, eventsOf, FULL_SEQUENCE } from "./support/frames.ts"
import { validateEvent } from "./support/openResponsesSchema.ts"

const FULL = FULL_SEQUENCE
const MINIMAL = ["response.in_progress", "response.output_item.added", "response.output_text.delta", "response.content_part.done", "response.completed"]

/** Collapses runs of deltas so sequences compare by shape. */
const shape = (types: ReadonlyArray<string>) => types.filter((type, i) => type !== "response.output_text.delta" || types[i - 1] !== type)

const protocol = Protocol.make()
const minimal = Protocol.make({ eventProfile: "minimal" })

describe("Protocol frames", () => {
  it("decodes a server envelope with its double-encoded event", () => {
    const json = JSON.stringify({
      type: "message",
      headers: { messageId: "msg_1732500000000_k3j9x2", timestamp: 1732500000000, conversationId: "conv_42", senderId: "user_7", senderName: "Ada" },
      data: JSON.stringify({ type: "response.output_text.delta", sequence_number: 4, event_id: "evt_a", response_id: "resp_a", item_id: "i", output_index: 0, content_index: 0, delta: "Hi" })
    })
    const decoded = decodeMessage(json)
    assert.strictEqual(decoded.headers.senderName, "Ada")
    assert.strictEqual(decoded.data.type, "response.output_text.delta")
    assert.strictEqual((decoded.data as { delta: string }).delta, "Hi")
    assert.strictEqual(Protocol.encodeFrame(decoded), json)
  })

  it("keeps unknown fields and unknown event types through decode and encode", () => {
    const json = JSON.stringify({
      type: "message",
      headers: { messageId: "m", timestamp: 1, conversationId: "c" },
      data: JSON.stringify({ type: "acme:typing", sequence_number: 0, extra: { deep: [1, null] } })
    })
    const decoded = decodeMessage(json)
    assert.isFalse(Protocol.isKnownEvent(decoded.data))
    assert.strictEqual(Protocol.encodeFrame(decoded), json)
  })

  it("treats other envelope kinds as ignorable, not as errors", () => {
    const envelope = Result.getOrThrow(Protocol.decodeFrame(JSON.stringify({ type: "presence", whatever: 1 })))
    assert.isFalse(Protocol.isMessageEnvelope(envelope))
    assert.strictEqual(envelope.type, "presence")
  })

  it("reports malformed frames with a readable message and without their contents", () => {
    const cases: ReadonlyArray<[string, RegExp]> = [
      ["{not json x-app-secret: hunter2", /^Malformed frame: /],
      [JSON.stringify({ type: "message", headers: { messageId: "m", timestamp: 1 }, data: "{bad" }), /valid JSON string[\s\S]*\["data"\]/],
      [JSON.stringify({ type: "message", headers: { timestamp: 1 }, data: "{}" }), /\["headers"\]\["messageId"\]/],
      [JSON.stringify({ type: "message", headers: { messageId: "m", timestamp: 1 }, data: JSON.stringify({ type: "response.output_text.delta", delta: 5 }) }), /\["data"\]/],
      ["[1,2]", /^Malformed frame: /]
    ]
    for (const [frame, pattern] of cases) {
      const result = Protocol.decodeFrame(frame)
      if (Result.isSuccess(result)) throw new Error(`decoded ${frame}`)
      assert.strictEqual(result.failure._tag, "ProtocolDecodeError")
      assert.match(result.failure.message, pattern)
      assert.notInclude(result.failure.message, "hunter2")
    }
  })
})

describe("Protocol outbound", () => {
  it.effect("a whole string becomes the full nine-step sequence", () =>
    Effect.gen(function*() {
      const frames = yield* collectReply(protocol, "Hello there")
      const events = eventsOf(frames)
      assert.deepStrictEqual(events.map((e) => e.type), FULL)
      assert.deepStrictEqual(events.map((e) => e.sequence_number), [0, 1, 2, 3, 4, 5, 6, 7, 8])
      const responseIds = new Set(events.map((e) => e.response_id))
      assert.strictEqual(responseIds.size, 1)
      assert.match([...responseIds][0] as string, /^resp_[0-9a-z]{12}$/)
      assert.strictEqual(new Set(events.map((e) => e.event_id)).size, events.length)
      const completed = events.at(-1)!
      assert.strictEqual(completed.response.status, "completed")
      assert.strictEqual(completed.response.output[0]!.content[0]!.text, "Hello there")
      assert.deepStrictEqual(completed.response.metadata, { conversation_id: "conv_1" })
      for (const frame of frames) assert.strictEqual(decodeMessage(frame.json).headers.conversationId, "conv_1")
    }))

  it.effect("splits deltas at the configured size without breaking surrogate pairs", () =>
    Effect.gen(function*() {
      const text = "😀".repeat(30) // 60 code units
      const frames = yield* collectReply(Protocol.make({ deltaSize: 5 }), text)
      const deltas = eventsOf(frames).filter((e) => e.type === "response.output_text.delta").map((e) => e.delta as string)
      assert.isTrue(deltas.every((d) => d.length <= 5 && d.length % 2 === 0))
      assert.strictEqual(deltas.join(""), text)
    }))

  it("chunkText keeps every piece within the size and never ends one on a high surrogate", () => {
    assert.deepStrictEqual(Protocol.chunkText("abcdefg", 3), ["abc", "def", "g"])
    assert.deepStrictEqual(Protocol.chunkText("ab😀c", 3), ["ab", "😀c"])
    assert.deepStrictEqual(Protocol.chunkText("", 3), [])
  })

  it.effect("the minimal profile sends the seed's events in order, numbered from 0", () =>
    Effect.gen(function*() {
      const events = eventsOf(yield* collectReply(minimal, "Hi"))
      assert.deepStrictEqual(events.map((e) => e.type), MINIMAL)
      assert.deepStrictEqual(events.map((e) => e.sequence_number), [0, 1, 2, 3, 4])
    }))

  it.effect("refuses empty and whitespace-only text before sending anything", () =>
    Effect.gen(function*() {
      for (const text of ["", "   \n\t"]) {
        const error = yield* Effect.flip(collectReply(protocol, text))
        assert.strictEqual(error.message, "Cannot send empty message")
      }
    }))

  it.effect("an agent's stream begins at once; if it never has text, that response ends failed with empty_reply", () =>
    Effect.gen(function*() {
      const events = eventsOf(yield* collectReply(protocol, Stream.make(" ", "", "\n")))
      assert.deepStrictEqual(events.map((e) => e.type), ["response.created", "response.in_progress", "response.failed"])
      assert.deepStrictEqual(events[2]!.response.error, { code: "empty_reply", message: "The agent returned an empty reply." })
      assert.deepStrictEqual(events.flatMap((e) => validateEvent(e)), [])
    }))

  it.effect("writeReply hands the same frames as streamReply to the writer, batch by batch, and says how the reply ended", () =>
    Effect.gen(function*() {
      const run = (source: Stream.Stream<string, string>, options: Partial<Protocol.ReplyOptions> = {}) =>
        Effect.gen(function*() {
          const batches: Array<ReadonlyArray<Protocol.OutboundFrame>> = []
          const outcome = yield* protocol.writeReply({ conversationId: "c", ...options }, source, (frames) => Effect.sync(() => batches.push(frames)))
          return { outcome, batches, types: eventsOf(batches.flat()).map((e) => e.type as string) }
        }).pipe(Random.withSeed("same"))
      const completed = yield* run(Stream.make("Hello ", "there"))
      assert.strictEqual(completed.outcome._tag, "Completed")
      assert.deepStrictEqual(completed.batches[0]!.map((f) => f.type), ["response.created", "response.in_progress"], "before the agent's first piece")
      const streamed = yield* Stream.runCollect(protocol.streamReply({ conversationId: "c" }, Stream.make("Hello ", "there"))).pipe(Random.withSeed("same"))
      assert.deepStrictEqual(completed.batches.flat().map((f) => f.json), streamed.map((f) => f.json))

      const failed = yield* run(Stream.concat(Stream.make("half "), Stream.fail("boom")))
      assert.strictEqual(failed.outcome._tag, "Failed")
      assert.strictEqual(failed.types.at(-1), "response.failed")

      const stopped = yield* run(Stream.concat(Stream.make("half "), Stream.fail("stop")), { describeStop: () => "stopped by the user" })
      assert.deepStrictEqual(stopped.outcome, { _tag: "Stopped", reason: "stopped by the user" })
      assert.strictEqual(stopped.types.at(-1), "response.incomplete")

      const empty = yield* run(Stream.make("  "))
      assert.strictEqual(empty.outcome._tag, "Empty")
      assert.deepStrictEqual(empty.types, ["response.created", "response.in_progress", "response.failed"])
    }))

  it.effect("writeReply: the writer's own failure ends the run as it is; the source's failure is said once, before the last frame", () =>
    Effect.gen(function*() {
      // The writer fails on the agent's first piece: that error comes out, and nothing more is written.
      const written: Array<string> = []
      const writerFailed = yield* protocol.writeReply({ conversationId: "c" }, Stream.make("Hello ", "there"), (frames) =>
        frames.some((f) => f.type === "response.output_text.delta")
          ? Effect.fail("link gone" as const)
          : Effect.sync(() => void written.push(...frames.map((f) => f.type)))).pipe(Effect.flip)
      assert.strictEqual(writerFailed, "link gone")
      assert.deepStrictEqual(written, ["response.created", "response.in_progress"])

      // The source fails: onSourceFailure hears of it before the response.failed frame is written.
      const order: Array<string> = []
      yield* protocol.writeReply(
        { conversationId: "c", onSourceFailure: () => Effect.sync(() => void order.push("told")) },
        Stream.concat(Stream.make("half "), Stream.fail("boom")),
        (frames) => Effect.sync(() => void order.push(...frames.map((f) => f.type)))
      )
      assert.deepStrictEqual(order.slice(-2), ["told", "response.failed"])
      assert.strictEqual(order.filter((o) => o === "told").length, 1)
    }))

  it.effect("a stopped reply ends with response.incomplete: the reason, the text so far, schema-valid, nothing after", () =>
    Effect.gen(function*() {
      const source = Stream.concat(Stream.make("partial answer "), Stream.fail("stop"))
      const frames = yield* Stream.runCollect(protocol.streamReply({ conversationId: "c", describeStop: () => "stopped by the user" }, source))
      const events = eventsOf(frames)
      assert.deepStrictEqual(events.map((e) => e.type).slice(-2), ["response.output_text.delta", "response.incomplete"])
      const last = events.at(-1)!
      assert.strictEqual(last.response.status, "incomplete")
      assert.deepStrictEqual(last.response.incomplete_details, { reason: "stopped by the user" })
      assert.strictEqual(last.response.output[0].content[0].text, "partial answer ")
      assert.deepStrictEqual(events.flatMap((e) => validateEvent(e)), [])
    }))

  it.effect("progressEvents: reasoning and a tool call stream as their own items before the message, schema-valid", () =>
    Effect.gen(function*() {
      const withProgress = Protocol.make({ progressEvents: true })
      const source = Stream.make<ReadonlyArray<Protocol.ReplyPiece>>(
        { _tag: "Reasoning", delta: "The user wants " },
        { _tag: "Reasoning", delta: "the weather." },
        { _tag: "ToolCall", name: "weather", arguments: "{\"city\":\"Oslo\"}", callId: "call_1" },
        "It is ",
        "sunny."
      )
      const frames = yield* Stream.runCollect(withProgress.streamReply({ conversationId: "c" }, source))
      const events = eventsOf(frames)
      assert.deepStrictEqual(events.map((e) => [e.type, e.output_index ?? null]), [
        ["response.created", null],
        ["response.in_progress", null],
        ["response.output_item.added", 0],
        ["response.reasoning.delta", 0],
        ["response.reasoning.delta", 0],
        ["response.reasoning.done", 0],
        ["response.output_item.done", 0],
        ["response.output_item.added", 1],
        ["response.function_call_arguments.delta", 1],
        ["response.function_call_arguments.done", 1],
        ["response.output_item.done", 1],
        ["response.output_item.added", 2],
        ["response.content_part.added", 2],
        ["response.output_text.delta", 2],
        ["response.output_text.delta", 2],
        ["response.output_text.done", 2],
        ["response.content_part.done", 2],
        ["response.output_item.done", 2],
        ["response.completed", null]
      ])
      assert.deepStrictEqual(events.map((e) => e.sequence_number), events.map((_, i) => i))
      assert.deepStrictEqual(events.at(-1)!.response.output.map((item: { type: string }) => item.type), ["reasoning", "function_call", "message"])
      assert.deepStrictEqual(events.flatMap((e) => validateEvent(e)), [])
      // A receiver that reads only text gets the message's text, nothing of the steps.
      const assembler = new Protocol.InboundAssembler(Protocol.defaultLimits)
      const received = frames.flatMap((frame) => assembler.push(decodeMessage(frame.json), 0))
      assert.deepStrictEqual(received.flatMap((o) => (o._tag === "Message" ? [o.message.text] : [])), ["It is sunny."])
    }))

  it.effect("without progressEvents (the default) the steps are not sent", () =>
    Effect.gen(function*() {
      const source = Stream.make<ReadonlyArray<Protocol.ReplyPiece>>({ _tag: "Reasoning", delta: "thinking" }, { _tag: "ToolCall", name: "t", arguments: "{}", callId: "c1" }, "Hi")
      const events = eventsOf(yield* Stream.runCollect(protocol.streamReply({ conversationId: "c" }, source)))
      assert.deepStrictEqual(shape(events.map((e) => e.type)), FULL)
      assert.strictEqual(events.find((e) => e.type === "response.output_item.added")!.output_index, 0)
    }))

  it.effect("a ReplyTo piece: the envelopes from then on carry headers.replyToId, and its events stay the same", () =>
    Effect.gen(function*() {
      const source = Stream.make<ReadonlyArray<Protocol.ReplyPiece>>("As you ", { _tag: "ReplyTo", replyToId: "resp_quoted" }, "said.")
      const frames = yield* Stream.runCollect(protocol.streamReply({ conversationId: "grp_1" }, source))
      const headers = frames.map((frame) => JSON.parse(frame.json).headers as Record<string, unknown>)
      const first = headers.findIndex((h) => h.replyToId === "resp_quoted")
      assert.isAbove(first, 0, "not on the frames before the piece")
      assert.isTrue(headers.slice(first).every((h) => h.replyToId === "resp_quoted" && h.conversationId === "grp_1"))
      assert.deepStrictEqual(shape(eventsOf(frames).map((e) => e.type)), FULL)
      assert.strictEqual(eventsOf(frames).at(-1)!.response.output[0].content[0].text, "As you said.")
    }))

  it.effect("created and in_progress leave before the agent's first piece exists", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const slow = Stream.fromEffect(Effect.as(Effect.sleep("2 seconds"), "late answer"))
      const fiber = yield* Effect.forkChild(Stream.runForEach(protocol.streamReply({ conversationId: "c" }, slow), (frame) =>
        Effect.sync(() => seen.push(decodeMessage(frame.json).data.type))))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(seen, ["response.created", "response.in_progress"], "the typing signal, with no text yet")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen.slice(2, 5), ["response.output_item.added", "response.content_part.added", "response.output_text.delta"])
      assert.strictEqual(seen.at(-1), "response.completed")
    }))

  it.effect("a failing stream ends the response with response.failed carrying { code, message }", () =>
    Effect.gen(function*() {
      const source = Stream.concat(Stream.make("partial "), Stream.fail(new Error("model down: secret-token")))
      const events = eventsOf(yield* collectReply(protocol, source))
      assert.deepStrictEqual(shape(events.map((e) => e.type)), [...FULL.slice(0, 5), "response.failed"])
      const failed = events.at(-1)!
      assert.strictEqual(failed.response.status, "failed")
      assert.deepStrictEqual(failed.response.error, Protocol.genericFailure)
      assert.notInclude(JSON.stringify(events), "secret-token")
    }))

  it.effect("a stream failing before any text still starts the response, then fails it", () =>
    Effect.gen(function*() {
      const events = eventsOf(yield* collectReply(protocol, Stream.fail("nope")))
      assert.deepStrictEqual(events.map((e) => e.type), ["response.created", "response.in_progress", "response.failed"])
      const minimalEvents = eventsOf(yield* collectReply(minimal, Stream.fail("nope")))
      assert.deepStrictEqual(minimalEvents.map((e) => e.type), ["response.in_progress", "response.failed"])
    }))

  it.effect("describeFailure chooses what the user is told", () =>
    Effect.gen(function*() {
      const frames = yield* Stream.runCollect(
        protocol.streamReply({ conversationId: "c", describeFailure: () => ({ code: "rate_limited", message: "Try again in a minute." }) }, Stream.fail("x"))
      )
      const failed = eventsOf(frames).at(-1)!
      assert.deepStrictEqual(failed.response.error, { code: "rate_limited", message: "Try again in a minute." })
    }))

  it.effect("streams each piece as soon as it exists, before the source ends", () =>
    Effect.gen(function*() {
      const pieces = yield* Queue.unbounded<string, Cause.Done>()
      const seen = yield* Queue.unbounded<string>()
      const fiber = yield* protocol.streamReply({ conversationId: "c" }, Stream.fromQueue(pieces)).pipe(
        Stream.runForEach((frame) => Queue.offer(seen, frame.type)),
        Effect.forkChild
      )
      yield* Queue.offer(pieces, "first")
      const firstFive = [yield* Queue.take(seen), yield* Queue.take(seen), yield* Queue.take(seen), yield* Queue.take(seen), yield* Queue.take(seen)]
      assert.deepStrictEqual(firstFive, FULL.slice(0, 5))
      yield* Queue.end(pieces)
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* Queue.size(seen), 4)
    }))

  it.effect("ids and timestamps follow Effect's Random and Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_732_500_000_123)
      const first = yield* collectReply(protocol, "same").pipe(Random.withSeed("s"))
      const second = yield* collectReply(protocol, "same").pipe(Random.withSeed("s"))
      assert.deepStrictEqual(first, second)
      const created = eventsOf(first)[0]!
      assert.strictEqual(created.response.created_at, 1_732_500_000)
      assert.match(decodeMessage(first[0]!.json).headers.messageId, /^msg_1732500000123_[0-9a-z]+$/)
    }))

  it.effect("every outbound event validates against the official Open Responses schema", () =>
    Effect.gen(function*() {
      const replies = [
        yield* collectReply(protocol, "Full profile 😀 with 漢字"),
        yield* collectReply(minimal, "Minimal profile"),
        yield* collectReply(protocol, Stream.concat(Stream.make("half"), Stream.fail("x"))),
        yield* collectReply(minimal, Stream.fail("x"))
      ]
      const errors = replies.flatMap((frames) => eventsOf(frames).flatMap(validateEvent))
      assert.deepStrictEqual(errors, [])
      assert.isTrue(replies.flat().length > 15)
    }))
})

const limits: Protocol.AssemblerLimits = { maxInFlight: 3, maxTextBytes: 64, idleTimeoutMillis: 1000 }
const start = (responseId: string, headers = {}) => envelope({ type: "response.created", sequence_number: 0, response: { id: responseId, status: "in_progress" } }, headers)
const delta = (responseId: string, sequence: number, text: string) =>
  envelope({ type: "response.output_text.delta", sequence_number: sequence, response_id: responseId, item_id: "i", output_index: 0, content_index: 0, delta: text })
const completed = (responseId: string, sequence: number) => envelope({ type: "response.completed", sequence_number: sequence, response: { id: responseId, status: "completed" } })
const reasons = (outputs: ReadonlyArray<Protocol.AssemblerOutput>) => outputs.flatMap((o) => (o._tag === "Violation" ? [o.violation.reason] : []))
const messages = (outputs: ReadonlyArray<Protocol.AssemblerOutput>) => outputs.flatMap((o) => (o._tag === "Message" ? [o.message] : []))

describe("Protocol inbound assembler", () => {
  it("assembles deltas into one message with its conversation and sender", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const first = start("r1", { senderId: "user_7", senderName: "Ada" })
    const outputs = [first, delta("r1", 1, "Hel"), delta("r1", 2, "lo"), completed("r1", 3)].flatMap((e) => assembler.push(e, 42))
    assert.deepStrictEqual(messages(outputs), [
      { conversationId: "conv_1", senderId: "user_7", senderName: "Ada", responseId: "r1", messageId: first.headers.messageId, text: "Hello", receivedAt: 42 }
    ])
    assert.strictEqual(assembler.inFlightCount, 0)
  })

  it("a group message carries its chat: type, name, mention, and the message it replies to", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const group = { senderId: "user_7", chatType: "group", groupName: "Hikers", mentioned: true, replyToId: "resp_a1", replyToText: "Saturday?" }
    const first = start("r1", group)
    const [message] = messages([first, delta("r1", 1, "yes"), completed("r1", 2)].flatMap((e) => assembler.push(e, 1)))
    assert.deepStrictEqual(message, {
      ...group,
      chatType: "group",
      conversationId: "conv_1",
      responseId: "r1",
      messageId: first.headers.messageId,
      text: "yes",
      receivedAt: 1
    })
    const direct = messages([start("r2", { chatType: "direct" }), delta("r2", 1, "x"), completed("r2", 2)].flatMap((e) => assembler.push(e, 1)))
    assert.notProperty(direct[0], "chatType", "a direct chat's message looks as before groups")
  })

  it("defaults senderId to the conversation", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const [message] = messages([start("r"), delta("r", 1, "x"), completed("r", 2)].flatMap((e) => assembler.push(e, 0)))
    assert.strictEqual(message!.senderId, "conv_1")
    assert.notProperty(message, "senderName")
  })

  it("accepts the minimal profile and prefers content_part.done text", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const events = [
      envelope({ type: "response.in_progress", sequence_number: 0, response: { id: "r" } }),
      envelope({ type: "response.output_item.added", sequence_number: 1, response_id: "r", output_index: 0, item: { type: "message", id: "i", role: "user" } }),
      delta("r", 2, "Hi th"),
      envelope({ type: "response.content_part.done", sequence_number: 3, response_id: "r", item_id: "i", content_index: 0, part: { type: "output_text", text: "Hi there" } }),
      completed("r", 4)
    ]
    assert.deepStrictEqual(messages(events.flatMap((e) => assembler.push(e, 0))).map((m) => m.text), ["Hi there"])
  })

  it("accepts the oldest form: no response object, no sequence numbers", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const events = [
      envelope({ type: "response.in_progress", event_id: "e1", response_id: "old" }),
      envelope({ type: "response.output_text.delta", event_id: "e2", response_id: "old", delta: "legacy " }),
      envelope({ type: "response.output_text.delta", event_id: "e3", response_id: "old", delta: "text" }),
      envelope({ type: "response.completed", event_id: "e4", response_id: "old" })
    ]
    assert.deepStrictEqual(messages(events.flatMap((e) => assembler.push(e, 0))).map((m) => m.text), ["legacy text"])
  })

  it("takes output_text.done as authoritative", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const done = envelope({ type: "response.output_text.done", sequence_number: 2, response_id: "r", item_id: "i", content_index: 0, text: "Corrected" })
    const out = [start("r"), delta("r", 1, "Corected"), done, completed("r", 3)].flatMap((e) => assembler.push(e, 0))
    assert.deepStrictEqual(messages(out).map((m) => m.text), ["Corrected"])
  })

  it("drops a redelivered envelope by messageId and never delivers a response twice", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const events = [start("r"), delta("r", 1, "x"), completed("r", 2)]
    const first = events.flatMap((e) => assembler.push(e, 0))
    const again = events.flatMap((e) => assembler.push(e, 0))
    assert.strictEqual(messages(first).length, 1)
    assert.deepStrictEqual(again.map((o) => o._tag), ["Duplicate", "Duplicate", "Duplicate"])
    const replayed = [start("r"), delta("r", 1, "x"), completed("r", 2)].flatMap((e) => assembler.push(e, 0))
    assert.deepStrictEqual(reasons(replayed), ["EventAfterCompletion", "EventAfterCompletion", "EventAfterCompletion"])
    assert.strictEqual(messages(replayed).length, 0)
  })

  it("a redelivered event of a response still being assembled is dropped as a duplicate; a new event with a used sequence number is a violation", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const first = delta("r", 1, "a")
    const out = [start("r"), first, first, delta("r", 1, "b"), completed("r", 2)].flatMap((e) => assembler.push(e, 0))
    assert.deepStrictEqual(out.map((o) => o._tag), ["Duplicate", "Violation", "Message"])
    assert.deepStrictEqual(reasons(out), ["SequenceNotIncreasing"])
    assert.strictEqual(messages(out)[0]!.text, "a")
  })

  it("a response dropped idle, sent again whole (§7: the same message ids), is assembled again and delivered once", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const events = [start("r"), delta("r", 1, "Hel"), delta("r", 2, "lo"), completed("r", 3)]
    assert.deepStrictEqual(events.slice(0, 2).flatMap((e) => assembler.push(e, 0)), [])
    assert.deepStrictEqual(reasons(assembler.sweep(1000)), ["IdleTimeout"])
    // The rest of the first delivery, late: not "after completion" (that would be acknowledged as answered).
    assert.deepStrictEqual(reasons(assembler.push(events[3]!, 1000)), ["UnknownResponse"])
    const again = events.flatMap((e) => assembler.push(e, 2000))
    assert.deepStrictEqual(again.map((o) => o._tag), ["Message"])
    assert.deepStrictEqual(messages(again).map((m) => [m.text, m.messageId]), [["Hello", events[0]!.headers.messageId]])
    // Delivered once: a third delivery is a duplicate, as for any completed response.
    assert.deepStrictEqual(events.flatMap((e) => assembler.push(e, 3000)).map((o) => o._tag), ["Duplicate", "Duplicate", "Duplicate", "Duplicate"])
  })

  it("a response evicted unfinished, sent again whole, is assembled again and delivered once", () => {
    const assembler = new Protocol.InboundAssembler({ ...limits, maxInFlight: 1 })
    const events = [start("a"), delta("a", 1, "Hi"), completed("a", 2)]
    assembler.push(events[0]!, 0)
    assert.deepStrictEqual(reasons([start("b"), events[1]!].flatMap((e) => assembler.push(e, 10))), ["Evicted", "UnknownResponse"])
    const again = events.flatMap((e) => assembler.push(e, 20))
    assert.deepStrictEqual(reasons(again), ["Evicted"], "a begins again, and evicts b")
    assert.deepStrictEqual(messages(again).map((m) => m.text), ["Hi"])
    assert.deepStrictEqual(events.flatMap((e) => assembler.push(e, 30)).map((o) => o._tag), ["Duplicate", "Duplicate", "Duplicate"])
  })

  it("a completed response sent again stays a duplicate; one that was never dropped is not begun again by its start", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const events = [start("r"), delta("r", 1, "x"), completed("r", 2)]
    assert.strictEqual(messages(events.flatMap((e) => assembler.push(e, 0))).length, 1)
    // Even after an idle sweep (which drops only responses still being assembled).
    assert.deepStrictEqual(assembler.sweep(5000), [])
    assert.deepStrictEqual(events.flatMap((e) => assembler.push(e, 5000)).map((o) => o._tag), ["Duplicate", "Duplicate", "Duplicate"])
    assert.strictEqual(assembler.inFlightCount, 0)
  })

  it("an event that came before its response's start is a duplicate when it comes again after the start", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const early = delta("r", 2, "lo")
    assert.deepStrictEqual(reasons(assembler.push(early, 0)), ["UnknownResponse"])
    const out = [start("r"), delta("r", 1, "Hel"), early].flatMap((e) => assembler.push(e, 0))
    assert.deepStrictEqual(out.map((o) => o._tag), ["Duplicate"])
  })

  it("a completed response is not delivered twice after the responses begun before it are dropped idle", () => {
    const assembler = new Protocol.InboundAssembler({ ...limits, maxInFlight: 10, remembered: 5 })
    for (const id of ["a", "b", "c", "d", "e"]) assembler.push(start(id), 0)
    const events = [start("r"), delta("r", 1, "hi"), completed("r", 2)]
    assert.strictEqual(messages(events.flatMap((e) => assembler.push(e, 0))).length, 1)
    // Five responses are dropped after r ended (dropped, not ended: r stays remembered as ended).
    assert.deepStrictEqual(reasons(assembler.sweep(1000)), Array(5).fill("IdleTimeout"))
    assert.deepStrictEqual(events.flatMap((e) => assembler.push(e, 1000)).map((o) => o._tag), ["Duplicate", "Duplicate", "Duplicate"])
  })

  it("RecentIds: remembers the last ids, recorded or added, and looks them up only when asked", () => {
    const ids = new RecentIds(3)
    ids.record("a")
    ids.record("b")
    assert.isFalse(ids.add("a"), "a recorded id is found")
    assert.isTrue(ids.add("c"))
    ids.record("d") // a leaves
    assert.isTrue(ids.add("a"), "the oldest is forgotten")
    assert.isFalse(ids.add("d"))
    assert.isFalse(ids.add("c"))
    assert.strictEqual(ids.size, 3)
    for (let i = 0; i < 10; i++) ids.record(`x${i}`)
    assert.isTrue(ids.add("c"), "forgotten after capacity more")
    assert.isFalse(ids.add("x9"))
    assert.strictEqual(ids.size, 3)
  })

  it("reports an event for an unknown response", () => {
    assert.deepStrictEqual(reasons(new Protocol.InboundAssembler(limits).push(delta("nobody", 1, "x"), 0)), ["UnknownResponse"])
  })

  it("reports a delta after completion", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    ;[start("r"), delta("r", 1, "x"), completed("r", 2)].forEach((e) => assembler.push(e, 0))
    assert.deepStrictEqual(reasons(assembler.push(delta("r", 3, "late"), 0)), ["EventAfterCompletion"])
  })

  it("reports a sequence number that goes backwards and ignores that event", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const out = [start("r"), delta("r", 2, "a"), delta("r", 1, "b"), completed("r", 3)].flatMap((e) => assembler.push(e, 0))
    assert.deepStrictEqual(reasons(out), ["SequenceNotIncreasing", "IncompleteText"])
    assert.strictEqual(messages(out).length, 0)
  })

  it("discards the partial message on response.failed and response.incomplete", () => {
    for (const type of ["response.failed", "response.incomplete"]) {
      const assembler = new Protocol.InboundAssembler(limits)
      const end = envelope({ type, sequence_number: 2, response: { id: "r", status: "failed", error: { code: "x", message: "upstream gone" } } })
      const out = [start("r"), delta("r", 1, "partial"), end].flatMap((e) => assembler.push(e, 0))
      assert.deepStrictEqual(reasons(out), ["ResponseFailed"])
      assert.strictEqual(assembler.inFlightCount, 0)
    }
  })

  it("at the in-flight bound, evicts the least recently active response and accepts the new one", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const out = [
      ...assembler.push(start("a"), 0),
      ...assembler.push(start("b"), 10),
      ...assembler.push(start("c"), 20),
      ...assembler.push(delta("a", 1, "still typing"), 30),
      ...assembler.push(start("d"), 40)
    ]
    assert.deepStrictEqual(reasons(out), ["Evicted"])
    const evicted = out.find((o) => o._tag === "Violation")!
    assert.strictEqual(evicted._tag === "Violation" && evicted.violation.responseId, "b", "b was idle longest")
    assert.strictEqual(assembler.inFlightCount, 3)
    assert.deepStrictEqual(messages([delta("d", 1, "new"), completed("d", 2)].flatMap((e) => assembler.push(e, 50))).map((m) => m.text), ["new"])
  })

  it("discards a response whose text exceeds the size bound", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const out = [start("r"), delta("r", 1, "x".repeat(40)), delta("r", 2, "y".repeat(40)), completed("r", 3)].flatMap((e) => assembler.push(e, 0))
    assert.deepStrictEqual(reasons(out), ["TextTooLarge", "EventAfterCompletion"])
    assert.strictEqual(messages(out).length, 0)
  })

  it("pauseIdle: time the caller did not read does not count as a response's silence", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    assembler.push(start("r"), 0)
    assembler.pauseIdle(5000)
    assert.deepStrictEqual(assembler.sweep(5999), [])
    assert.deepStrictEqual(reasons(assembler.sweep(6000)), ["IdleTimeout"])
  })

  it("sweeps responses idle for the timeout", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    assembler.push(start("old"), 0)
    assembler.push(start("fresh"), 600)
    assert.deepStrictEqual(assembler.sweep(999), [])
    assert.deepStrictEqual(reasons(assembler.sweep(1000)), ["IdleTimeout"])
    assert.strictEqual(assembler.inFlightCount, 1)
  })

  it("reports a missing conversationId, a missing response id and an empty message", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    assert.deepStrictEqual(reasons(assembler.push(envelope({ type: "response.created", response: { id: "r" } }, { conversationId: "" }), 0)), ["MissingConversationId"])
    assert.deepStrictEqual(reasons(assembler.push(envelope({ type: "response.output_text.delta", delta: "x" }), 0)), ["MissingResponseId"])
    const out = [start("e"), delta("e", 1, "  "), completed("e", 2)].flatMap((e) => assembler.push(e, 0))
    assert.deepStrictEqual(reasons(out), ["EmptyMessage"])
  })

  it("ignores events it does not use without a warning", () => {
    const assembler = new Protocol.InboundAssembler(limits)
    const out = [
      envelope({ type: "response.reasoning.delta", response_id: "r", delta: "hmm" }),
      envelope({ type: "acme:typing" }),
      envelope({ type: "response.refusal.done", response_id: "r" })
    ].flatMap((e) => assembler.push(e, 0))
    assert.deepStrictEqual(out.map((o) => o._tag), ["Ignored", "Ignored", "Ignored"])
  })

  it("forgets the oldest ids beyond its memory bound", () => {
    const assembler = new Protocol.InboundAssembler({ ...limits, remembered: 5 })
    for (let i = 0; i < 20; i++) assembler.push(start(`r${i}`), 0)
    assert.isAtMost(assembler.rememberedCount, 10)
  })

  it.effect("the service makes assemblers with the configured bounds", () =>
    Effect.gen(function*() {
      const assembler = yield* Protocol.make({ limits: { ...limits, maxInFlight: 1 } }).makeAssembler
      assert.deepStrictEqual(reasons([start("a"), start("b")].flatMap((e) => assembler.push(e, 0))), ["Evicted"])
      assert.strictEqual(assembler.inFlightCount, 1)
    }))
})

describe("Protocol.layer", () => {
  it.effect("takes delta size, profile, model and bounds from ConnectorConfig", () =>
    Effect.gen(function*() {
      const protocol = yield* Protocol.Protocol
      assert.deepStrictEqual(protocol.settings, {
        progressEvents: false,
        deltaSize: 7,
        eventProfile: "minimal",
        model: "my-agent",
        limits: { maxInFlight: 9, maxTextBytes: 1000, idleTimeoutMillis: 2000 }
      })
    }).pipe(
      Effect.provide(
        Protocol.Protocol.layer.pipe(
          Layer.provide(
            ConnectorConfig.layerFromInput({
              clientId: "a",
              clientSecret: "b",
              deltaSize: 7,
              eventProfile: "minimal",
              model: "my-agent",
              maxInFlightResponses: 9,
              maxResponseTextBytes: 1000,
              responseIdleTimeout: 2000
            })
          )
        )
      )
    ))
})

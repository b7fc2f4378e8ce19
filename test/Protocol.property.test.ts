import { describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Random, Result, Stream } from "effect"
import * as fc from "fast-check"
import { Buffer } from "node:buffer"
import { assert } from "vitest"
import * as Protocol from "../src/Protocol.ts"
import { decodeMessage, eventsOf, FULL_SEQUENCE } from "./support/frames.ts"
import { validateEvent } from "./support/openResponsesSchema.ts"

const ORDER = FULL_SEQUENCE

/** Any text: ASCII, CJK, emoji and other astral code points, whitespace. */
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.array(fc.constantFrom("漢字", "😀", "👩‍👩‍👧", "\n", " ", "é", "a", "𝔘"), { maxLength: 120 }).map((parts) => parts.join(""))
)
const nonBlankText = anyText.filter((text) => text.trim().length > 0)

/** Splits text into pieces at random points — possibly inside a surrogate pair. */
const piecesOf = (text: string) =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, text.length - 1) }), { maxLength: 10 }).map((cuts) => {
    const points = [0, ...cuts.filter((cut) => cut < text.length).sort((a, b) => a - b), text.length]
    return points.slice(1).map((end, i) => text.slice(points[i], end))
  })

const replyFrames = (protocol: Protocol.Protocol["Service"], text: string | ReadonlyArray<string>, conversationId = "conv") =>
  Effect.runSync(
    Stream.runCollect(protocol.streamReply({ conversationId }, typeof text === "string" ? text : Stream.fromIterable(text)))
  )

/** An envelope as plain data with `data` parsed too: frames that mean the same compare equal. */
const meaning = (json: string) => {
  const envelope = JSON.parse(json)
  return { ...envelope, data: JSON.parse(envelope.data) }
}

const limits: Protocol.AssemblerLimits = { maxInFlight: 1000, maxTextBytes: 4 * 1024 * 1024, idleTimeoutMillis: 60_000 }

const assemble = (jsons: ReadonlyArray<string>, assembler = new Protocol.InboundAssembler(limits)) =>
  jsons.flatMap((json) => {
    const decoded = Protocol.decodeFrame(json)
    if (Result.isFailure(decoded) || !Protocol.isMessageEnvelope(decoded.success)) return []
    return assembler.push(decoded.success, 0)
  })

const messagesOf = (outputs: ReadonlyArray<Protocol.AssemblerOutput>) => outputs.flatMap((o) => (o._tag === "Message" ? [o.message] : []))

const settings = fc.record({
  deltaSize: fc.integer({ min: 2, max: 120 }),
  eventProfile: fc.constantFrom("full" as const, "minimal" as const)
})

/** A medium an agent may send (§8.1): by URL (a few, so some repeat) or as bytes. */
const mediaPiece: fc.Arbitrary<Protocol.ReplyPiece> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("image" as const, "file" as const, "video" as const),
    url: fc.constantFrom("https://cdn.example/a.png", "https://cdn.example/b.pdf", "http://127.0.0.1:9/c.mp4", "data:image/png;base64,iVBORw0KGgo="),
    filename: fc.option(fc.string({ maxLength: 8 }), { nil: undefined })
  }).map(({ filename, kind, url }): Protocol.ReplyPiece => ({ _tag: "Media", kind, url, ...(filename === undefined ? {} : { filename }) })),
  // Bytes that are what their type says (a receiver leaves out a data: URL whose bytes are not).
  fc.record({ kind: fc.constantFrom("image" as const, "file" as const), bytes: fc.uint8Array({ maxLength: 40 }) })
    .map(({ bytes, kind }): Protocol.ReplyPiece => ({
      _tag: "Media",
      kind,
      bytes: Buffer.concat([kind === "image" ? Buffer.from("89504e470d0a1a0a", "hex") : Buffer.from("%PDF-"), bytes]),
      mimeType: kind === "image" ? "image/png" : "application/pdf"
    }))
)

/** One piece an agent may produce: any text (blank, empty, half a surrogate pair), reasoning, a tool call, a medium. */
const agentPiece: fc.Arbitrary<Protocol.ReplyPiece> = fc.oneof(
  { weight: 6, arbitrary: anyText },
  { weight: 2, arbitrary: fc.constantFrom("", " ", "\n", "\ud83d", "\ude00", "\ud83d\ude00") },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((delta): Protocol.ReplyPiece => ({ _tag: "Reasoning", delta })) },
  {
    weight: 1,
    arbitrary: fc.record({ name: fc.string({ maxLength: 8 }), arguments: fc.string({ maxLength: 20 }), callId: fc.string({ maxLength: 8 }) })
      .map((call): Protocol.ReplyPiece => ({ _tag: "ToolCall", ...call }))
  },
  { weight: 2, arbitrary: mediaPiece }
)

/** The URL a medium goes out with when nothing resolves it: its own, or its bytes inline. */
const urlOf = (media: Protocol.ReplyPiece) =>
  typeof media === "string" || media._tag !== "Media" ? undefined : media.url ?? `data:${media.mimeType};base64,${Buffer.from(media.bytes!).toString("base64")}`

/** An agent's stream: chunks of pieces (pieces ready together), then how it ends. */
interface AgentStream {
  readonly chunks: ReadonlyArray<ReadonlyArray<Protocol.ReplyPiece>>
  readonly ending: "end" | "fail" | "stop" | "defect"
  readonly describeFailure: boolean
}
const agentStream: fc.Arbitrary<AgentStream> = fc.record({
  chunks: fc.array(fc.array(agentPiece, { minLength: 1, maxLength: 4 }), { maxLength: 6 }),
  ending: fc.constantFrom("end" as const, "fail" as const, "stop" as const, "defect" as const),
  describeFailure: fc.boolean()
})

const sourceOf = ({ chunks, ending }: AgentStream): Stream.Stream<Protocol.ReplyPiece, string> => {
  const pieces = Stream.fromArrays(...chunks)
  switch (ending) {
    case "end":
      return pieces
    case "fail":
      return Stream.concat(pieces, Stream.fail("boom"))
    case "stop":
      return Stream.concat(pieces, Stream.fail("stop"))
    case "defect":
      return Stream.concat(pieces, Stream.die(new Error("agent crashed")))
  }
}

/** A clock that moves on at every reading: frames match only if both paths read it at the same points. */
const tickingClock = (): Clock.Clock => {
  let now = 1_732_500_000_000
  const millis = () => (now += 7)
  const nanos = () => BigInt(millis()) * 1_000_000n
  return {
    currentTimeMillisUnsafe: millis,
    currentTimeMillis: Effect.sync(millis),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: nanos,
    monotonicTimeNanos: Effect.sync(nanos),
    sleep: () => Effect.void
  }
}

describe("Protocol properties", () => {
  it("1. envelope round trip: decode then encode gives the same envelope, for every event", () =>
    fc.assert(
      fc.property(settings, nonBlankText, fc.boolean(), (options, text, fails) => {
        const protocol = Protocol.make(options)
        const source = fails ? Stream.concat(Stream.make(text), Stream.fail("boom")) : Stream.make(text)
        const frames = Effect.runSync(Stream.runCollect(protocol.streamReply({ conversationId: "c" }, source)))
        for (const frame of frames) {
          const decoded = decodeMessage(frame.json)
          assert.deepStrictEqual(meaning(Protocol.encodeFrame(decoded)), meaning(frame.json))
          assert.deepStrictEqual(decodeMessage(Protocol.encodeFrame(decoded)), decoded)
        }
      })
    ))

  it("1b. envelope round trip for server events with arbitrary extra fields and headers", () =>
    fc.assert(
      fc.property(
        fc.constantFrom(...ORDER, "response.failed", "response.queued", "response.reasoning.delta", "acme:typing"),
        fc.dictionary(fc.string().filter((k) => !["type", "sequence_number", "event_id", "response_id", "response", "item", "part", "delta", "text", "item_id", "output_index", "content_index"].includes(k)), fc.jsonValue(), { maxKeys: 4 }),
        fc.record({ messageId: fc.string(), timestamp: fc.integer(), conversationId: fc.string() }, { requiredKeys: ["messageId", "timestamp"] }),
        (type, extra, headers) => {
          const event = { ...extra, type, sequence_number: 3, response_id: "resp_x", ...(type.endsWith(".delta") ? { delta: "d" } : {}), ...(type.endsWith("text.done") ? { text: "t" } : {}) }
          const json = JSON.stringify({ type: "message", headers, data: JSON.stringify(event) })
          const decoded = decodeMessage(json)
          assert.deepStrictEqual(meaning(Protocol.encodeFrame(decoded)), meaning(json))
          assert.deepStrictEqual(decodeMessage(Protocol.encodeFrame(decoded)), decoded)
        }
      )
    ))

  it("2. outbound then inbound gives back the same text, once", () =>
    fc.assert(
      fc.property(
        settings,
        nonBlankText.chain((text) => fc.tuple(fc.constant(text), piecesOf(text))),
        fc.boolean(),
        (options, [text, pieces], streamed) => {
          const frames = replyFrames(Protocol.make(options), streamed ? pieces : text)
          const messages = messagesOf(assemble(frames.map((f) => f.json)))
          assert.strictEqual(messages.length, 1)
          assert.strictEqual(messages[0]!.text, text)
          // Sent twice (a redelivery): still once.
          const assembler = new Protocol.InboundAssembler(limits)
          const twice = messagesOf(assemble([...frames, ...frames].map((f) => f.json), assembler))
          assert.strictEqual(twice.length, 1)
        }
      )
    ))

  it("2b. text that is empty after trimming: refused before anything is sent; a stream of it ends failed", () =>
    fc.assert(
      fc.property(fc.array(fc.constantFrom(" ", "\n", "\t", "\u3000", ""), { maxLength: 8 }), fc.boolean(), (pieces, streamed) => {
        const protocol = Protocol.make()
        const source = streamed ? Stream.fromIterable(pieces) : pieces.join("")
        const result = Effect.runSync(Effect.result(Stream.runCollect(protocol.streamReply({ conversationId: "c" }, source))))
        if (!streamed) {
          assert.isTrue(Result.isFailure(result))
          if (Result.isFailure(result)) assert.strictEqual(result.failure.message, "Cannot send empty message")
          return
        }
        // An agent's stream has begun (created, in_progress) before it turns out empty.
        const types = Result.getOrThrow(result).map((frame) => (decodeMessage(frame.json).data as { type: string }).type)
        assert.deepStrictEqual(types, ["response.created", "response.in_progress", "response.failed"])
      })
    ))

  it("2c. a 1 MiB message survives the round trip", () => {
    const text = "abcdefghij😀漢".repeat(Math.ceil((1024 * 1024) / 18)).slice(0, 1024 * 1024 / 2)
    const frames = replyFrames(Protocol.make({ deltaSize: 50 }), text)
    const [message] = messagesOf(assemble(frames.map((f) => f.json)))
    assert.strictEqual(message!.text.length, text.length)
    assert.strictEqual(message!.text, text)
  })

  it("3. every outbound sequence is well ordered", () =>
    fc.assert(
      fc.property(settings, nonBlankText.chain((text) => piecesOf(text)), fc.option(fc.nat(20), { nil: undefined }), (options, pieces, failAfter) => {
        const source = failAfter === undefined
          ? Stream.fromIterable(pieces)
          : Stream.concat(Stream.fromIterable(pieces.slice(0, failAfter)), Stream.fail("x"))
        const frames = Effect.runSync(Stream.runCollect(Protocol.make(options).streamReply({ conversationId: "c" }, source)))
        const events = frames.map((f) => decodeMessage(f.json).data as { type: string; sequence_number: number; response_id: string; item_id?: string; delta?: string })
        assert.deepStrictEqual(events.map((e) => e.sequence_number), events.map((_, i) => i))
        assert.strictEqual(new Set(events.map((e) => e.response_id)).size, 1)
        assert.isAtMost(new Set(events.flatMap((e) => (e.item_id === undefined ? [] : [e.item_id]))).size, 1)
        const ranks = events.filter((e) => e.type !== "response.failed").map((e) => ORDER.indexOf(e.type))
        assert.isTrue(ranks.every((rank, i) => rank >= 0 && (i === 0 || rank >= ranks[i - 1]!)))
        const failed = events.findIndex((e) => e.type === "response.failed")
        if (failed >= 0) assert.strictEqual(failed, events.length - 1)
        assert.strictEqual(events[0]!.type, options.eventProfile === "full" ? "response.created" : "response.in_progress")
        for (const e of events) if (e.type === "response.output_text.delta") assert.isAtMost(e.delta!.length, options.deltaSize)
      })
    ))

  it("4. adversarial inbound streams never throw, never double-deliver, never deliver an incomplete message, stay bounded", () => {
    const response = fc.record({ text: nonBlankText, deltaSize: fc.integer({ min: 2, max: 40 }), profile: fc.constantFrom("full" as const, "minimal" as const) })
    const garbage = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.constant(JSON.stringify({ type: "message", headers: { messageId: "g", timestamp: 1 }, data: "{" })),
      fc.constant(JSON.stringify({ type: "message", headers: { messageId: "g2", timestamp: 1, conversationId: "c" }, data: JSON.stringify({ type: "response.output_text.delta", response_id: "resp_ghost", delta: "boo" }) }))
    )
    fc.assert(
      fc.property(
        fc.array(response, { minLength: 1, maxLength: 6 }),
        fc.array(garbage, { maxLength: 5 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 50 }),
        fc.nat(),
        (responses, junk, maxInFlight, order, duplicates, truncate) => {
          const sent = responses.map(({ deltaSize, profile, text }, i) => ({
            text,
            frames: replyFrames(Protocol.make({ deltaSize, eventProfile: profile }), text, `conv_${i}`)
          }))
          let stream = sent.flatMap((r) => r.frames.map((f) => f.json))
          stream = [...stream, ...duplicates.map((d) => stream[d % stream.length]!), ...junk]
          // shuffle by the random keys, then cut the tail off
          const keyed = stream.map((json, i) => ({ json, key: order[i % order.length]! * 1000 + i }))
          keyed.sort((a, b) => a.key - b.key)
          const fed = keyed.map((k) => k.json).slice(0, keyed.length - (truncate % Math.max(1, Math.floor(keyed.length / 3))))

          const assembler = new Protocol.InboundAssembler({ ...limits, maxInFlight, remembered: 50 })
          const outputs: Array<Protocol.AssemblerOutput> = []
          for (const json of fed) {
            const decoded = Protocol.decodeFrame(json)
            if (Result.isFailure(decoded) || !Protocol.isMessageEnvelope(decoded.success)) continue
            outputs.push(...assembler.push(decoded.success, 0))
            assert.isAtMost(assembler.inFlightCount, maxInFlight)
            assert.isAtMost(assembler.rememberedCount, 100)
          }
          const delivered = messagesOf(outputs)
          assert.strictEqual(new Set(delivered.map((m) => m.responseId)).size, delivered.length)
          for (const message of delivered) {
            const original = sent.find((r) => r.frames[0]!.responseId === message.responseId)
            assert.isDefined(original, "delivered a message nobody sent")
            assert.strictEqual(message.text, original!.text)
            const completedFrame = original!.frames.find((f) => f.type === "response.completed")!
            assert.include(fed, completedFrame.json, "delivered before its completion arrived")
          }
        }
      ),
      { numRuns: 200 }
    )
  })

  // writeReply is the path the connector answers every message with; the other properties drive
  // streamReply, so this one holds the two to the same frames.
  it("5. writeReply's batches, flattened, are streamReply's frames: same JSON, same order, for any agent stream", () =>
    fc.assert(
      fc.property(settings, fc.boolean(), agentStream, fc.string({ maxLength: 8 }), (options, progressEvents, agent, seed) => {
        const protocol = Protocol.make({ ...options, progressEvents })
        const replyOptions: Protocol.ReplyOptions = {
          conversationId: "conv",
          describeStop: (cause) => Cause.squash(cause) === "stop" ? "stopped by the user" : undefined,
          describeFailure: agent.describeFailure ? (cause) => ({ code: "agent_error", message: String(Cause.squash(cause)) }) : undefined
        }
        const pinned = <A, E>(effect: Effect.Effect<A, E>) => Effect.runSync(effect.pipe(Effect.provideService(Clock.Clock, tickingClock()), Random.withSeed(seed)))
        const batches: Array<ReadonlyArray<Protocol.OutboundFrame>> = []
        pinned(protocol.writeReply(replyOptions, sourceOf(agent), (frames) => Effect.sync(() => void batches.push(frames))))
        const frames = pinned(Stream.runCollect(protocol.streamReply(replyOptions, sourceOf(agent))))
        assert.deepStrictEqual(batches.flat().map((f) => f.json), frames.map((f) => f.json))
        assert.isTrue(batches.every((batch) => batch.length > 0), "no empty batch")
      }),
      { numRuns: 300 }
    ))

  it("6. every outbound event, media and progress among the pieces, validates against the vendored Open Responses schema", () =>
    fc.assert(
      fc.property(settings, fc.boolean(), agentStream, (options, progressEvents, agent) => {
        const protocol = Protocol.make({ ...options, progressEvents })
        const frames = Effect.runSync(Stream.runCollect(protocol.streamReply({ conversationId: "conv", describeStop: (cause) => Cause.squash(cause) === "stop" ? "stopped" : undefined }, sourceOf(agent))))
        const events = eventsOf(frames)
        assert.deepStrictEqual(events.flatMap((event) => validateEvent(event)), [])
        assert.deepStrictEqual(events.map((event) => event.sequence_number), events.map((_, i) => i))
        // Media parts follow the text part: content_index 1… after text, 0… without.
        const parts = events.filter((event) => event.type === "response.content_part.done").map((event) => [event.part.type, event.content_index])
        parts.forEach(([, index], i) => assert.strictEqual(index, i))
      }),
      { numRuns: 300 }
    ))

  it("7. outbound then inbound gives back the text and the media, each URL once, in order; a reply of media only completes", () =>
    fc.assert(
      fc.property(settings, fc.array(fc.array(agentPiece, { minLength: 1, maxLength: 4 }), { maxLength: 6 }), (options, chunks) => {
        const frames = Effect.runSync(Stream.runCollect(Protocol.make(options).streamReply({ conversationId: "conv" }, Stream.fromArrays(...chunks))))
        const outputs = assemble(frames.map((f) => f.json))
        const pieces = chunks.flat()
        const text = pieces.filter((piece): piece is string => typeof piece === "string").join("")
        const urls = [...new Set(pieces.flatMap((piece) => urlOf(piece) ?? []))]
        const messages = messagesOf(outputs)
        if (text.trim() === "" && urls.length === 0) {
          assert.deepStrictEqual(messages, [])
          return
        }
        assert.strictEqual(messages.length, 1)
        assert.strictEqual(messages[0]!.text, text.trim() === "" ? "" : text)
        assert.deepStrictEqual(messages[0]!.media?.map((media) => media.url) ?? [], urls)
        assert.deepStrictEqual(outputs.filter((o) => o._tag === "Violation"), [])
      }),
      { numRuns: 300 }
    ))
})

/**
 * A reply kept as its note (`src/internal/replyJournal.ts`): whatever the agent's pieces — text
 * split anywhere (inside a surrogate pair too), reasoning, tool calls, media, a quoted message,
 * a failing or stopped source — `replay` at any point makes exactly the frames written so far,
 * byte for byte: a re-send after a drop is the same frames the server may already have.
 */
import { describe, it } from "@effect/vitest"
import { Cause, Effect, Stream } from "effect"
import * as fc from "fast-check"
import { assert } from "vitest"
import type { ReplyMedia } from "../../src/Media.ts"
import * as Protocol from "../../src/Protocol.ts"

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.array(fc.constantFrom("漢字", "😀", "\ud83d", "\ude00", " ", "\n", "é", "word "), { maxLength: 12 }).map((parts) => parts.join(""))
)
const medium: fc.Arbitrary<ReplyMedia> = fc.record({
  _tag: fc.constant("Media" as const),
  kind: fc.constantFrom("image" as const, "file" as const),
  url: fc.constantFrom("https://cdn.example/cat.png", "https://cdn.example/report.pdf"),
  filename: fc.constantFrom("cat.png", "report.pdf")
})
const piece: fc.Arbitrary<Protocol.ReplyPiece> = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((delta) => ({ _tag: "Reasoning" as const, delta })) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("ToolCall" as const), name: fc.constantFrom("search", "clock"), arguments: fc.constant("{}"), callId: fc.uuid() }) },
  { weight: 1, arbitrary: medium },
  { weight: 1, arbitrary: fc.constant({ _tag: "ReplyTo" as const, replyToId: "msg_quoted" }) }
)
/** The agent's stream: chunks of pieces, then its end — done, failed, or stopped. */
const reply = fc.record({
  chunks: fc.array(fc.array(piece, { minLength: 1, maxLength: 4 }), { maxLength: 8 }),
  end: fc.constantFrom("done", "failed", "stopped")
})

describe("ReplyJournal", () => {
  it("replay makes exactly the frames written so far, at every write and at the end", () =>
    fc.assert(
      fc.property(reply, fc.constantFrom("full" as const, "minimal" as const), ({ chunks, end }, eventProfile) => {
        const protocol = Protocol.make({ progressEvents: true, eventProfile, deltaSize: 5 })
        const source = Stream.fromIterable(chunks).pipe(
          Stream.flatMap((chunk) => Stream.fromIterable(chunk)),
          Stream.concat(end === "done" ? Stream.empty : Stream.failCause(end === "failed" ? Cause.fail("the model is down") : Cause.interrupt()))
        )
        const written: Array<string> = []
        let replayable: Protocol.Replayable | undefined
        Effect.runSync(protocol.writeReply(
          { conversationId: "conv", describeStop: (cause) => (Cause.hasInterruptsOnly(cause) ? "stopped by the user" : undefined) },
          source,
          (frames, journal) =>
            Effect.sync(() => {
              written.push(...frames.map((frame) => frame.json))
              replayable = journal
              assert.deepStrictEqual(journal.replay().map((frame) => frame.json), written, "mid-reply")
            })
        ))
        assert.isDefined(replayable, "created and in_progress are always written")
        assert.deepStrictEqual(replayable!.replay().map((frame) => frame.json), written)
      }),
      { numRuns: 300 }
    ))
})

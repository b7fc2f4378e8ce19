/**
 * The inbound dedupe gate (`src/internal/dedupeGate.ts`) held to a plain model: a list of the last
 * `capacity` admitted message ids, oldest first, where an envelope is a duplicate exactly when its
 * id is in the list, and lists of the last `capacity` ended and dropped responses. A dropped
 * response sent again is the one exception to the lookup (docs/PROTOCOL.md §7): its start begins a
 * new attempt, and each event of that attempt with a sequence number above every one admitted in it
 * is admitted, though its id is in the list (it stays there once). The gate skips the lookup for
 * events it proves new; these properties say the shortcut never changes an answer.
 *
 * The one difference the docs allow (README "Delivery", the gate's Gotchas) is written into the
 * model: a server that reuses a message id for a different envelope may see that envelope counted
 * or dropped, and, while a copy of that id is remembered, later envelopes with it too.
 *
 * Sequences are built like a server's: responses streamed in order, redelivered from some point
 * (a reconnect) or one by one, out of order, with ids reused, envelopes lost, responses ended,
 * evicted and restored — over a small capacity, so ids and ended responses are forgotten often.
 */
import { describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { assert } from "vitest"
import { DedupeGate, type Track } from "../../src/internal/dedupeGate.ts"
import * as Protocol from "../../src/Protocol.ts"
import { userEnvelope } from "../../src/testing/Frames.ts"

/** One envelope of the pool, as the gate sees it; `key` tells envelopes apart (a redelivery has the same). */
interface Spec {
  readonly key: number
  readonly messageId: string
  readonly responseId: string
  /** A known event with a conversation: the gate hears its response. */
  readonly facts: boolean
  readonly sequence: number | undefined
  readonly starts: boolean
  /** How the stream it belongs to ends, on its last event (for the assembler's run). */
  readonly last: "completed" | "failed" | undefined
}

const rare = (oneIn: number) => fc.integer({ min: 1, max: oneIn }).map((n) => n === 1)

/**
 * Responses streamed as a server does, with the odd envelope that is not like the others: no
 * conversation, no sequence number, a skipped sequence number, a second start event, a message id
 * that an earlier envelope had, a response id that an earlier stream had.
 */
const pool = fc.array(
  fc.record({
    sharedResponse: rare(5),
    response: fc.integer({ min: 0, max: 3 }),
    end: fc.constantFrom("completed" as const, "failed" as const, undefined),
    events: fc.array(
      fc.record({
        noConversation: rare(12),
        noSequence: rare(12),
        skip: rare(8),
        alsoStarts: rare(6),
        reuse: rare(15),
        reused: fc.nat()
      }),
      { minLength: 1, maxLength: 5 }
    )
  }),
  { minLength: 1, maxLength: 40, size: "large" }
).map((streams) => {
  const specs: Array<Spec> = []
  streams.forEach((stream, i) => {
    let sequence = 0
    stream.events.forEach((tweak, j) => {
      const key = specs.length
      specs.push({
        key,
        messageId: tweak.reuse && key > 0 ? specs[tweak.reused % key]!.messageId : `m${key}`,
        responseId: stream.sharedResponse ? `shared${stream.response}` : `r${i}`,
        facts: !tweak.noConversation,
        sequence: tweak.noSequence ? undefined : sequence,
        starts: j === 0 || tweak.alsoStarts,
        last: j === stream.events.length - 1 ? stream.end : undefined
      })
      sequence += tweak.skip ? 2 : 1
    })
  })
  return specs
})

type Op =
  | { readonly _tag: "Next" }
  /** The envelope `at` places from the next one (behind it: a redelivery; ahead: early). */
  | { readonly _tag: "Redeliver"; readonly at: number }
  /** The server starts over `back` envelopes behind the next one (a reconnect). */
  | { readonly _tag: "Rewind"; readonly back: number }
  | { readonly _tag: "Lose" }
  | { readonly _tag: "End"; readonly at: number }
  /** Every response being assembled ends, the newest first (so the oldest are remembered as ended). */
  | { readonly _tag: "EndAll" }
  | { readonly _tag: "Drop"; readonly at: number }
  /** Every response being assembled is dropped, the oldest first (so ids of the dropped outlive their memory). */
  | { readonly _tag: "DropAll" }

/** How often each kind of step comes: some runs are a calm stream, others mostly disorder. */
const mix = fc.record({
  redeliver: fc.integer({ min: 0, max: 6 }),
  rewind: fc.integer({ min: 0, max: 2 }),
  lose: fc.integer({ min: 0, max: 1 }),
  end: fc.integer({ min: 1, max: 4 }),
  endAll: fc.integer({ min: 0, max: 2 }),
  drop: fc.integer({ min: 0, max: 1 }),
  dropAll: fc.integer({ min: 0, max: 2 })
})

const ops = mix.chain((weights) =>
  fc.array(
    fc.oneof(
      ...[
        { weight: 16, arbitrary: fc.constant<Op>({ _tag: "Next" }) },
        { weight: weights.redeliver, arbitrary: fc.integer({ min: -10, max: 4 }).map((at): Op => ({ _tag: "Redeliver", at })) },
        { weight: weights.rewind, arbitrary: fc.integer({ min: 1, max: 12 }).map((back): Op => ({ _tag: "Rewind", back })) },
        { weight: weights.lose, arbitrary: fc.constant<Op>({ _tag: "Lose" }) },
        { weight: weights.end, arbitrary: fc.nat().map((at): Op => ({ _tag: "End", at })) },
        { weight: weights.endAll, arbitrary: fc.constant<Op>({ _tag: "EndAll" }) },
        { weight: weights.drop, arbitrary: fc.nat().map((at): Op => ({ _tag: "Drop", at })) },
        { weight: weights.dropAll, arbitrary: fc.constant<Op>({ _tag: "DropAll" }) }
      ].filter((kind) => kind.weight > 0)
    ),
    { minLength: 10, maxLength: 200, size: "large" }
  )
)

/** The plain rule: bounded lists, looked up every time, but in a dropped response's new attempt. */
class Model {
  private readonly ids: Array<{ readonly id: string; readonly key: number }> = []
  /** Ids admitted while a copy was remembered (a server reusing them): either answer is right. */
  private readonly reused = new Set<string>()
  private readonly ended: Array<string> = []
  private readonly dropped: Array<string> = []
  private readonly restored: Array<string> = []
  /** Responses being assembled; for a new attempt at a dropped one, the highest sequence number admitted in it. */
  private readonly inFlight = new Map<string, { again: boolean; last: number }>()
  private readonly capacity: number
  constructor(capacity: number, restored: ReadonlyArray<string>) {
    this.capacity = capacity
    for (const id of restored) this.remember(this.restored, id)
  }
  private remember(list: Array<string>, id: string) {
    if (list.includes(id)) return
    list.push(id)
    if (list.length > this.capacity) list.shift()
  }
  /** An envelope of a dropped response sent again: its start, or a new event of its new attempt. */
  private again(spec: Spec): boolean {
    if (!spec.facts) return false
    const attempt = this.inFlight.get(spec.responseId)
    if (attempt === undefined) return spec.starts && this.standing(spec.responseId) === "Dropped"
    return attempt.again && spec.sequence !== undefined && spec.sequence > attempt.last
  }
  /** Holds the gate's answer to `spec` to the rule, and follows it. Which responses begin is the model's own reckoning. */
  push(spec: Spec, admitted: boolean, step: string) {
    const again = this.again(spec)
    const expected = again ? true : this.expected(spec)
    if (expected !== undefined) assert.strictEqual(admitted, expected, `${step}${again ? " (again)" : ""}: ${JSON.stringify(spec)}`)
    if (!admitted) return
    if (again) this.readmitted(spec)
    else this.admitted(spec)
    if (!spec.facts) return
    const attempt = this.inFlight.get(spec.responseId)
    if (attempt !== undefined) {
      if (again) attempt.last = spec.sequence!
    } else if (spec.starts) {
      const standing = this.standing(spec.responseId)
      if (standing === undefined || standing === "Dropped") this.inFlight.set(spec.responseId, { again: standing === "Dropped", last: spec.sequence ?? -1 })
    }
  }
  /** True: must be admitted; false: must be a duplicate; undefined: the id was reused, either. */
  private expected(spec: Spec): boolean | undefined {
    const copies = this.ids.filter((entry) => entry.id === spec.messageId)
    if (copies.length === 0) return true
    if (this.reused.has(spec.messageId) || copies.some((entry) => entry.key !== spec.key)) return undefined
    return false
  }
  /** Admitted again though its id may be in the list: the list keeps one copy. */
  private readmitted(spec: Spec) {
    const copies = this.ids.filter((entry) => entry.id === spec.messageId)
    if (copies.length === 0) this.admitted(spec)
    else if (copies.some((entry) => entry.key !== spec.key)) this.reused.add(spec.messageId)
  }
  private admitted(spec: Spec) {
    if (this.ids.some((entry) => entry.id === spec.messageId)) this.reused.add(spec.messageId)
    this.ids.push({ id: spec.messageId, key: spec.key })
    if (this.ids.length > this.capacity) {
      const gone = this.ids.shift()!
      if (!this.ids.some((entry) => entry.id === gone.id)) this.reused.delete(gone.id)
    }
  }
  /** The responses being assembled, oldest first (the harness's tracks, the assembler's table). */
  get assembling(): ReadonlyArray<string> {
    return [...this.inFlight.keys()]
  }
  end(responseId: string) {
    this.inFlight.delete(responseId)
    this.remember(this.ended, responseId)
  }
  drop(responseId: string) {
    this.inFlight.delete(responseId)
    this.remember(this.dropped, responseId)
  }
  standing(responseId: string) {
    return this.restored.includes(responseId)
      ? "Restored"
      : this.ended.includes(responseId)
      ? "Ended"
      : this.dropped.includes(responseId)
      ? "Dropped"
      : undefined
  }
  get size() {
    return Math.min(this.ids.length, this.capacity) + this.ended.length + this.dropped.length + this.restored.length
  }
}

/** Walks `ops` over `specs`: `feed` for each envelope, `end`/`drop` with the index of a response being assembled. */
const run = (specs: ReadonlyArray<Spec>, steps: ReadonlyArray<Op>, on: {
  feed: (spec: Spec) => void
  end: (at: number) => void
  endAll: () => void
  drop: (at: number) => void
  dropAll: () => void
}) => {
  let cursor = 0
  for (const op of steps) {
    switch (op._tag) {
      case "Next":
        on.feed(specs[cursor++ % specs.length]!)
        break
      case "Redeliver":
        on.feed(specs[((cursor + op.at) % specs.length + specs.length) % specs.length]!)
        break
      case "Rewind":
        cursor = Math.max(0, cursor - op.back)
        break
      case "Lose":
        cursor++
        break
      case "End":
        on.end(op.at)
        break
      case "EndAll":
        on.endAll()
        break
      case "Drop":
        on.drop(op.at)
        break
      case "DropAll":
        on.dropAll()
    }
  }
}

const settings = fc.record({
  capacity: fc.integer({ min: 0, max: 10 }),
  maxInFlight: fc.integer({ min: 1, max: 6 }),
  restored: fc.subarray(["r0", "r3", "shared0"], { maxLength: 2 })
})

describe("DedupeGate against a plain bounded list", () => {
  it("answers every envelope as the list does, and remembers the same responses", () =>
    fc.assert(
      fc.property(settings, pool, ops, ({ capacity, maxInFlight, restored }, specs, steps) => {
        const gate = new DedupeGate(capacity)
        gate.restore(restored)
        const model = new Model(capacity, restored)
        // The assembler's side of the gate's contract: a track per response being assembled.
        const tracks = new Map<string, Track>()
        const responseIds = new Set(specs.map((spec) => spec.responseId))
        const check = (step: string, ids: Iterable<string>) => {
          for (const id of ids) assert.strictEqual(gate.standing(id), model.standing(id), `${step}: standing of ${id}`)
          assert.strictEqual(gate.size, model.size, `${step}: size`)
        }
        const inFlight = (at: number) => [...tracks.keys()][at % Math.max(1, tracks.size)]
        run(specs, steps, {
          feed: (spec) => {
            const track = spec.facts ? tracks.get(spec.responseId) : undefined
            const admitted = gate.admit(spec.messageId, spec.facts ? spec.responseId : undefined, spec.sequence, track === undefined && spec.starts, track)
            model.push(spec, admitted, "admit")
            const standing = gate.standing(spec.responseId)
            if (admitted && spec.facts && track === undefined && spec.starts && (standing === undefined || standing === "Dropped")) {
              const begun = gate.begin(spec.responseId, spec.sequence)
              if (tracks.size >= maxInFlight) {
                const evicted = tracks.keys().next().value!
                tracks.delete(evicted)
                gate.drop(evicted)
                model.drop(evicted)
              }
              tracks.set(spec.responseId, begun)
            }
            assert.deepStrictEqual([...tracks.keys()].sort(), [...model.assembling].sort(), "the model begins the same responses")
            check("admit", [spec.responseId])
          },
          end: (at) => {
            const id = inFlight(at)
            if (id === undefined) return
            tracks.delete(id)
            gate.end(id)
            model.end(id)
            check("end", [id])
          },
          endAll: () => {
            for (const id of [...tracks.keys()].reverse()) {
              tracks.delete(id)
              gate.end(id)
              model.end(id)
            }
            check("end all", responseIds)
          },
          drop: (at) => {
            const id = inFlight(at)
            if (id === undefined) return
            tracks.delete(id)
            gate.drop(id)
            model.drop(id)
            check("drop", [id])
          },
          dropAll: () => {
            for (const id of [...tracks.keys()]) {
              tracks.delete(id)
              gate.drop(id)
              model.drop(id)
            }
            check("drop all", responseIds)
          }
        })
      }),
      { numRuns: 500 }
    ))

  it("through the assembler: an envelope is a Duplicate exactly when the rule says, and a dropped response sent again is assembled again", () =>
    fc.assert(
      fc.property(settings, pool, ops, ({ capacity, maxInFlight }, specs, steps) => {
        const assembler = new Protocol.InboundAssembler({ maxInFlight, maxTextBytes: 1 << 20, idleTimeoutMillis: 1000, remembered: capacity })
        const model = new Model(capacity, [])
        const types = specs.map((spec) =>
          spec.last === "completed"
            ? "response.completed"
            : spec.last === "failed"
            ? "response.failed"
            : spec.starts
            ? "response.in_progress"
            : "response.output_text.delta"
        )
        const envelopes = specs.map((spec) =>
          userEnvelope({
            type: types[spec.key]!,
            response_id: spec.responseId,
            ...(spec.sequence === undefined ? {} : { sequence_number: spec.sequence }),
            ...(spec.starts || spec.last !== undefined ? {} : { delta: `${spec.key} ` })
          }, { messageId: spec.messageId, ...(spec.facts ? {} : { conversationId: "" }) })
        )
        // What the assembler ended or dropped, the model follows (which is the assembler's business).
        const follow = (outputs: ReadonlyArray<Protocol.AssemblerOutput>) => {
          for (const output of outputs) {
            if (output._tag === "Message") model.end(output.message.responseId)
            if (output._tag !== "Violation" || output.violation.responseId === undefined) continue
            const { reason, responseId } = output.violation
            if (reason === "Evicted" || reason === "IdleTimeout") model.drop(responseId)
            else if (["ResponseFailed", "TextTooLarge", "IncompleteText", "EmptyMessage"].includes(reason)) model.end(responseId)
          }
          assert.strictEqual(assembler.inFlightCount, model.assembling.length, "the model begins the same responses")
        }
        let now = 0
        run(specs, steps, {
          feed: (spec) => {
            const outputs = assembler.push(envelopes[spec.key]!, now)
            // The gate hears a start only from a start event (a one-event stream's is its end).
            model.push({ ...spec, starts: types[spec.key] === "response.in_progress" }, !(outputs.length === 1 && outputs[0]!._tag === "Duplicate"), "push")
            follow(outputs)
            assert.isAtMost(assembler.rememberedCount, 4 * capacity)
          },
          // Responses end by their own events here; these drop them by the clock instead.
          end: () => {
            now += 600
            follow(assembler.sweep(now))
          },
          endAll: () => {
            now += 1000
            follow(assembler.sweep(now))
          },
          drop: () => {},
          dropAll: () => {}
        })
      }),
      { numRuns: 300 }
    ))
})

/**
 * A reply's encoder with a note of every step made on it, so that its frames can be made again,
 * byte for byte, from the note alone (`replay`).
 *
 * Why: a reply is kept until a pong proves the server read it, to be re-sent on the next link if
 * the one it went out on drops (`connection/Responses.ts`). Kept as its frames, it costs their
 * bytes: a dozen envelopes with three copies of the response snapshot for a 20-character echo.
 * The note is the agent's pieces and the clock readings. When a burst has thousands of replies
 * waiting for pongs queued behind it, that is the difference between a fraction of the burst's
 * size in memory and several times it.
 *
 * The encoder is a pure state machine (`ReplyEncoder`): the same options and the same steps at the
 * same clock readings give the same frames — the same ids, sequence numbers and timestamps, which
 * is what lets the server drop a re-sent frame it already has.
 *
 * Gotchas: a step is plain data, never a closure. A closure made where the reply is written keeps
 * that whole scope alive (the agent's stream, the writer, the message) for as long as the note.
 */
import { ReplyEncoder } from "../ReplyEncoder.ts"
import type { OutboundFrame, ReplyEncoderOptions, ReplyFailure, ReplyPiece } from "../ReplyPiece.ts"

/** Frames for pieces that are ready together (one chunk of the agent's stream); reasoning and tool calls only with `progress`. */
export const piecesFrames = (encoder: ReplyEncoder, chunk: ReadonlyArray<ReplyPiece>, progress: boolean): Array<OutboundFrame> => {
  const frames: Array<OutboundFrame> = []
  for (const piece of chunk) {
    if (typeof piece === "string") frames.push(...encoder.text(piece))
    else if (piece._tag === "ReplyTo") encoder.replyToId = piece.replyToId
    else if (piece._tag === "Media") frames.push(...encoder.media(piece))
    else if (progress) frames.push(...(piece._tag === "Reasoning" ? encoder.reasoning(piece.delta) : encoder.toolCall(piece)))
  }
  return frames
}

/** The last frames for a source that ended: complete, or failed when it never had any text or media. */
export const endFrames = (encoder: ReplyEncoder, emptyReply: ReplyFailure): ReadonlyArray<OutboundFrame> =>
  encoder.phase === "Ended" ? [] : encoder.completable ? encoder.complete() : encoder.fail(emptyReply)

/** One step: the clock reading it ran at (`ReplyEncoder.at`), what it was, and what it took. */
type Step =
  | readonly [millis: number, step: "begin"]
  | readonly [millis: number, step: "pieces", chunk: ReadonlyArray<ReplyPiece>]
  | readonly [millis: number, step: "end" | "fail", failure: ReplyFailure]
  | readonly [millis: number, step: "stop", reason: string]

const apply = (encoder: ReplyEncoder, step: Step, progress: boolean): ReadonlyArray<OutboundFrame> => {
  const at = encoder.at(step[0])
  switch (step[1]) {
    case "begin":
      return at.begin()
    case "pieces":
      return piecesFrames(at, step[2], progress)
    case "end":
      return endFrames(at, step[2])
    case "fail":
      return at.fail(step[2])
    case "stop":
      return at.incomplete(step[2])
  }
}

export class ReplyJournal {
  /** The encoder the reply is written with; let go once the reply has ended (only the note is kept). */
  private encoder: ReplyEncoder | undefined
  private readonly options: ReplyEncoderOptions
  private readonly progress: boolean
  private readonly steps: Array<Step> = []

  constructor(options: ReplyEncoderOptions, progress: boolean) {
    this.options = options
    this.progress = progress
    this.encoder = new ReplyEncoder(options)
  }

  /** True when `end` has something to complete: text, or media (`ReplyEncoder.completable`). */
  get completable(): boolean {
    return this.encoder?.completable ?? false
  }

  private run(step: Step): ReadonlyArray<OutboundFrame> {
    // After the end nothing is made, as the encoder itself would make nothing.
    if (this.encoder === undefined) return []
    this.steps.push(step)
    const frames = apply(this.encoder, step, this.progress)
    if (this.encoder.finished) this.encoder = undefined
    return frames
  }

  /** created and in_progress (`ReplyEncoder.begin`). */
  begin(millis: number) {
    return this.run([millis, "begin"])
  }
  /** One chunk of the agent's pieces. */
  pieces(millis: number, chunk: ReadonlyArray<ReplyPiece>) {
    return this.run([millis, "pieces", chunk])
  }
  /** The source ended: complete, or `emptyReply` when it had nothing. */
  end(millis: number, emptyReply: ReplyFailure) {
    return this.run([millis, "end", emptyReply])
  }
  /** The source failed: `response.failed`. */
  fail(millis: number, failure: ReplyFailure) {
    return this.run([millis, "fail", failure])
  }
  /** The source was stopped: `response.incomplete`. */
  stop(millis: number, reason: string) {
    return this.run([millis, "stop", reason])
  }

  /** Every frame made so far, made again on a fresh encoder. */
  replay(): Array<OutboundFrame> {
    const encoder = new ReplyEncoder(this.options)
    const frames: Array<OutboundFrame> = []
    for (const step of this.steps) frames.push(...apply(encoder, step, this.progress))
    return frames
  }
}

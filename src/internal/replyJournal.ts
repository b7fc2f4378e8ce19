/**
 * A reply's encoder with a note of every call made on it, so that its frames can be made again,
 * byte for byte, from the note alone (`replay`).
 *
 * Why: a reply is kept until a pong proves the server read it, to be re-sent on the next link if
 * the one it went out on drops (`connection/Responses.ts`). Kept as its frames, it costs their
 * bytes: a dozen envelopes with three copies of the response snapshot for a 20-character echo.
 * The note is the agent's pieces and the clock readings, a few hundred bytes. When a burst has
 * thousands of replies waiting for pongs queued behind it, that is the difference between a
 * fraction of the burst's size in memory and several times it.
 *
 * The encoder is a pure state machine (`ReplyEncoder`): the same options and the same calls at the
 * same clock readings give the same frames — the same ids, sequence numbers and timestamps, which
 * is what lets the server drop a re-sent frame it already has.
 */
import { ReplyEncoder } from "../ReplyEncoder.ts"
import type { OutboundFrame, ReplyEncoderOptions } from "../ReplyPiece.ts"

/** One call: the clock reading it ran at (`ReplyEncoder.at`), and what it did. */
type Step = readonly [millis: number, call: (encoder: ReplyEncoder) => ReadonlyArray<OutboundFrame>]

export class ReplyJournal {
  readonly encoder: ReplyEncoder
  private readonly options: ReplyEncoderOptions
  private readonly steps: Array<Step> = []

  constructor(options: ReplyEncoderOptions) {
    this.options = options
    this.encoder = new ReplyEncoder(options)
  }

  /**
   * Runs `call` on the encoder at the clock reading `millis` and notes it. `call` must depend on
   * nothing but the encoder and what it captured when made (no clock, no randomness).
   */
  run(millis: number, call: (encoder: ReplyEncoder) => ReadonlyArray<OutboundFrame>): ReadonlyArray<OutboundFrame> {
    this.steps.push([millis, call])
    return call(this.encoder.at(millis))
  }

  /** Every frame made so far, made again on a fresh encoder. */
  replay(): Array<OutboundFrame> {
    const encoder = new ReplyEncoder(this.options)
    const frames: Array<OutboundFrame> = []
    for (const [millis, call] of this.steps) frames.push(...call(encoder.at(millis)))
    return frames
  }
}

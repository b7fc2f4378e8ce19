/**
 * What a reply is made of (`ReplyPiece`: text, progress, media, a quote) and what `ReplyEncoder`
 * (`ReplyEncoder.ts`) makes of it: frames ready for the socket, a failure's `error`, the options
 * and phases of one reply.
 *
 * @since 0.1.0
 */
import type { ReplyMedia } from "./Media.ts"
import type { EventProfile } from "./Settings.ts"

/** Progress an agent may report besides its text, sent only with the `progressEvents` setting. */
export type ReplyProgress =
  | { readonly _tag: "Reasoning"; readonly delta: string }
  | { readonly _tag: "ToolCall"; readonly name: string; readonly arguments: string; readonly callId: string }

/**
 * One piece of a reply: text, progress, a medium (§8.1: sent after the text), or `ReplyTo` — the
 * reply quotes that message (§8.2): the envelopes from then on carry `headers.replyToId`.
 */
export type ReplyPiece = string | ReplyProgress | ReplyMedia | { readonly _tag: "ReplyTo"; readonly replyToId: string }

/** One frame ready for the socket, with the fields senders and tests look at. */
export interface OutboundFrame {
  readonly type: string
  readonly responseId: string
  readonly sequenceNumber: number
  /** The whole envelope as JSON text. */
  readonly json: string
}

/** A reply whose every frame so far can be made again, the same bytes (`Protocol.writeReply` gives one with each batch). */
export interface Replayable {
  readonly replay: () => ReadonlyArray<OutboundFrame>
}

/** The `error` of a `response.failed`: shown to the end user, so no stack and no secret. */
export interface ReplyFailure {
  readonly code: string
  readonly message: string
}

export interface ReplyEncoderOptions {
  readonly conversationId: string
  /** Random token the response, item and event ids are made from. */
  readonly token: string
  /** Unix milliseconds when the reply started; `at` moves it forward. */
  readonly startedAt: number
  readonly model: string
  readonly profile: EventProfile
  readonly deltaSize: number
  /** Role of the message; `assistant` for replies, `user` for the reference server. */
  readonly role?: "assistant" | "user" | undefined
}

/**
 * Where a reply is, in order: `Idle`, nothing sent; `Begun`, created and in_progress sent (reasoning
 * and tool call items may follow); `Open`, the message item and its part are open and text goes out
 * as deltas; `Ended`, its last frame (completed, failed or incomplete) is out and nothing follows.
 * `fail` and `incomplete` may end a reply from any phase before `Ended`.
 */
export type ReplyPhase = "Idle" | "Begun" | "Open" | "Ended"

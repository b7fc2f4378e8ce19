/**
 * Outbound: one reply becomes one streamed Open Responses response (docs/PROTOCOL.md §4).
 *
 * `ReplyEncoder` is a small pure state machine. It is fed text pieces as the agent produces them
 * and returns, for each call, the frames to put on the wire now. It holds nothing back except
 * leading whitespace (so an all-blank reply can still be refused before anything is sent), half
 * of a surrogate pair split across two pieces, and media (§8.1), which follow the text as content
 * parts of their own when the reply completes (`internal/replyMedia.ts`).
 *
 * @since 0.1.0
 */
import { ReplyMediaParts } from "./internal/replyMedia.ts"
import { responseSnapshot } from "./internal/responseSnapshot.ts"
import type { ReplyMedia } from "./Media.ts"
import type { OutboundFrame, ReplyEncoderOptions, ReplyFailure, ReplyPhase } from "./ReplyPiece.ts"

// What a reply is made of and what the encoder gives, a module of their own.
export type * from "./ReplyPiece.ts"

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff

/**
 * Splits text into pieces of at most `size` UTF-16 code units, never between the two halves
 * of a surrogate pair. `size` must be at least 2.
 */
export const chunkText = (text: string, size: number): Array<string> => {
  const chunks: Array<string> = []
  let start = 0
  while (start < text.length) {
    let end = Math.min(start + size, text.length)
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1
    chunks.push(text.slice(start, end))
    start = end
  }
  return chunks
}

/** Event types the minimal profile sends (docs/PROTOCOL.md §4). */
const MINIMAL: ReadonlySet<string> = new Set([
  "response.in_progress",
  "response.output_item.added",
  "response.output_text.delta",
  "response.content_part.done",
  "response.completed",
  "response.failed",
  "response.incomplete"
])

/**
 * Encodes one reply. Call `text` for each piece, then `complete` — or `fail` at any point.
 *
 * Gotchas: `complete` on a reply that never had non-blank text nor a medium returns no frames and
 * leaves the phase as it was (never `Open`); the caller reports `Cannot send empty message`.
 */
export class ReplyEncoder {
  readonly responseId: string
  readonly itemId: string
  private sequence = 0
  private envelopes = 0
  /** The message this reply quotes, once the agent said so (a `ReplyTo` piece). */
  replyToId: string | undefined
  private held = ""
  private full = ""
  private _phase: ReplyPhase = "Idle"
  /** output_index of the message item: after any reasoning and tool call items. */
  private messageIndex = 0
  private nextIndex = 0
  /** Reasoning and tool call items already done, for the final `output`. */
  private readonly progressItems: Array<unknown> = []
  /** The reasoning item being streamed, if one is. */
  private reasoningItem: { readonly id: string; readonly index: number; text: string } | undefined
  /** Media, sent after the text when the reply completes. */
  private readonly mediaParts: ReplyMediaParts
  private nowMillis: number
  private readonly createdAt: number
  private readonly options: ReplyEncoderOptions

  constructor(options: ReplyEncoderOptions) {
    this.options = options
    this.responseId = `resp_${options.token}`
    this.itemId = `item_${options.token}`
    this.nowMillis = options.startedAt
    this.createdAt = Math.floor(options.startedAt / 1000)
    this.mediaParts = new ReplyMediaParts(options.role ?? "assistant")
  }

  /** Sets the clock reading used for the next frames' timestamps. Returns `this`. */
  at(nowMillis: number): this {
    this.nowMillis = Math.max(this.nowMillis, nowMillis)
    return this
  }

  /** Where the reply is: one value, so no two flags can disagree. */
  get phase(): ReplyPhase {
    return this._phase
  }
  /** True once the message item opened, or the reply ended: no text opens it any more. */
  get started(): boolean {
    return this._phase === "Open" || this._phase === "Ended"
  }
  /** True once the reply's last frame is out. */
  get finished(): boolean {
    return this._phase === "Ended"
  }
  /** True when `complete` has something to complete: text, or media. */
  get completable(): boolean {
    return this._phase === "Open" || (this._phase !== "Ended" && (this.mediaParts.size > 0 || this.held.trim() !== ""))
  }
  private frame(event: Record<string, unknown> & { readonly type: string }): Array<OutboundFrame> {
    if (this.options.profile === "minimal" && !MINIMAL.has(event.type)) return []
    const sequenceNumber = this.sequence++
    const data = JSON.stringify({
      ...event,
      sequence_number: sequenceNumber,
      event_id: `evt_${this.options.token}_${sequenceNumber}`,
      response_id: this.responseId
    })
    const headers: Record<string, unknown> = {
      messageId: `msg_${this.nowMillis}_${this.options.token}${(this.envelopes++).toString(36)}`,
      timestamp: this.nowMillis,
      conversationId: this.options.conversationId
    }
    if (this.replyToId !== undefined) headers.replyToId = this.replyToId
    const json = JSON.stringify({ type: "message", headers, data })
    return [{ type: event.type, responseId: this.responseId, sequenceNumber, json }]
  }

  private snapshot(
    status: "in_progress" | "completed" | "failed" | "incomplete",
    output: ReadonlyArray<unknown>,
    error: ReplyFailure | null,
    incompleteReason?: string
  ) {
    return responseSnapshot(
      { id: this.responseId, createdAt: this.createdAt, model: this.options.model, conversationId: this.options.conversationId },
      { status, completedAt: status === "in_progress" ? null : Math.floor(this.nowMillis / 1000), output, error, incompleteReason }
    )
  }

  private part(text: string) {
    return { type: "output_text", text, annotations: [] }
  }

  private item(status: "in_progress" | "completed" | "incomplete", content: ReadonlyArray<unknown>) {
    return { type: "message", id: this.itemId, status, role: this.options.role ?? "assistant", content }
  }

  /** True once `begin` (or the first text) sent created and in_progress. */
  get begun(): boolean {
    return this._phase !== "Idle"
  }

  /**
   * Events 1–2: created and in_progress, before any text exists — the user's "working on it".
   * The item and its part follow with the first text.
   */
  begin(): Array<OutboundFrame> {
    if (this._phase !== "Idle") return []
    this._phase = "Begun"
    return [
      ...this.frame({ type: "response.created", response: this.snapshot("in_progress", [], null) }),
      ...this.frame({ type: "response.in_progress", response: this.snapshot("in_progress", [], null) })
    ]
  }

  /**
   * Reasoning text, as a `reasoning` item streamed before the message item (opt-in setting
   * `progressEvents`). Only before the reply's first text: after it, reasoning is dropped.
   */
  reasoning(delta: string): Array<OutboundFrame> {
    if (this.started || delta.length === 0) return []
    const frames = this.begin()
    if (this.reasoningItem === undefined) {
      this.reasoningItem = { id: `rs_${this.options.token}_${this.nextIndex}`, index: this.nextIndex++, text: "" }
      frames.push(...this.frame({
        type: "response.output_item.added",
        output_index: this.reasoningItem.index,
        item: { type: "reasoning", id: this.reasoningItem.id, summary: [], content: [] }
      }))
    }
    const { id, index } = this.reasoningItem
    this.reasoningItem.text += delta
    frames.push(...this.frame({ type: "response.reasoning.delta", item_id: id, output_index: index, content_index: 0, delta }))
    return frames
  }

  /** A tool call, as a `function_call` item before the message item (opt-in, like `reasoning`). */
  toolCall(call: { readonly name: string; readonly arguments: string; readonly callId: string }): Array<OutboundFrame> {
    if (this.started) return []
    const frames = [...this.begin(), ...this.endReasoning()]
    const index = this.nextIndex++
    const item = { type: "function_call", id: `fc_${this.options.token}_${index}`, call_id: call.callId, name: call.name, arguments: "" }
    frames.push(
      ...this.frame({ type: "response.output_item.added", output_index: index, item: { ...item, status: "in_progress" } }),
      ...this.frame({ type: "response.function_call_arguments.delta", item_id: item.id, output_index: index, delta: call.arguments }),
      ...this.frame({ type: "response.function_call_arguments.done", item_id: item.id, output_index: index, arguments: call.arguments }),
      ...this.frame({ type: "response.output_item.done", output_index: index, item: { ...item, arguments: call.arguments, status: "completed" } })
    )
    this.progressItems.push({ ...item, arguments: call.arguments, status: "completed" })
    return frames
  }

  /** Closes the reasoning item being streamed, if one is. */
  private endReasoning(): Array<OutboundFrame> {
    const reasoning = this.reasoningItem
    if (reasoning === undefined) return []
    this.reasoningItem = undefined
    const item = { type: "reasoning", id: reasoning.id, summary: [], content: [{ type: "reasoning_text", text: reasoning.text }] }
    this.progressItems.push(item)
    return [
      ...this.frame({ type: "response.reasoning.done", item_id: reasoning.id, output_index: reasoning.index, content_index: 0, text: reasoning.text }),
      ...this.frame({ type: "response.output_item.done", output_index: reasoning.index, item })
    ]
  }

  /** Events 1–4: created, in_progress (unless `begin` sent them), output_item.added, content_part.added. */
  open(): Array<OutboundFrame> {
    if (this.started) return []
    const begun = this.begin()
    const progress = this.endReasoning()
    this._phase = "Open"
    this.messageIndex = this.nextIndex++
    return [
      ...begun,
      ...progress,
      ...this.frame({ type: "response.output_item.added", output_index: this.messageIndex, item: this.item("in_progress", []) }),
      ...this.frame({
        type: "response.content_part.added",
        item_id: this.itemId,
        output_index: this.messageIndex,
        content_index: 0,
        part: this.part("")
      })
    ]
  }

  /** Deltas for one more piece of text (opening the response on the first non-blank text). */
  text(piece: string): Array<OutboundFrame> {
    if (this._phase === "Ended" || piece.length === 0) return []
    let pending = this.held + piece
    this.held = ""
    if (this._phase !== "Open" && pending.trim() === "") {
      this.held = pending
      return []
    }
    // Keep a trailing high surrogate until its other half arrives.
    if (isHighSurrogate(pending.charCodeAt(pending.length - 1))) {
      this.held = pending.slice(-1)
      pending = pending.slice(0, -1)
      if (pending.length === 0) return []
    }
    return this.deltas(pending)
  }

  private deltas(pending: string): Array<OutboundFrame> {
    const frames = this.open()
    for (const delta of chunkText(pending, this.options.deltaSize)) {
      frames.push(
        ...this.frame({
          type: "response.output_text.delta",
          item_id: this.itemId,
          output_index: this.messageIndex,
          content_index: 0,
          delta,
          logprobs: []
        })
      )
    }
    this.full += pending
    return frames
  }

  /**
   * A medium, kept until `complete` sends it after the text (each URL once). Nothing goes out now
   * but created and in_progress, if they have not.
   */
  media(media: ReplyMedia): Array<OutboundFrame> {
    if (this._phase === "Ended") return []
    this.mediaParts.add(media)
    return this.begin()
  }

  /**
   * Events 6–9: output_text.done, content_part.done, then each medium's content_part.added and
   * .done (content_index 1…n), output_item.done, completed. A reply of media only opens its
   * item here, with the media at content_index 0…n-1.
   */
  complete(): Array<OutboundFrame> {
    if (!this.completable) return []
    // A lone high surrogate at the very end has no partner coming: send it as it is.
    const frames = this.held.trim() !== "" ? this.deltas(this.held) : []
    const open = this._phase === "Open"
    if (!open) {
      frames.push(...this.begin(), ...this.endReasoning())
      this.messageIndex = this.nextIndex++
      frames.push(...this.frame({ type: "response.output_item.added", output_index: this.messageIndex, item: this.item("in_progress", []) }))
    }
    this.held = ""
    this._phase = "Ended"
    const text = this.full
    const location = { item_id: this.itemId, output_index: this.messageIndex, content_index: 0 }
    const item = this.item("completed", [...(open ? [this.part(text)] : []), ...this.mediaParts.content])
    if (open) {
      frames.push(
        ...this.frame({ type: "response.output_text.done", ...location, text, logprobs: [] }),
        ...this.frame({ type: "response.content_part.done", ...location, part: this.part(text) })
      )
    }
    for (const event of this.mediaParts.events(this.itemId, this.messageIndex, open ? 1 : 0)) frames.push(...this.frame(event))
    return [
      ...frames,
      ...this.frame({ type: "response.output_item.done", output_index: this.messageIndex, item }),
      ...this.frame({ type: "response.completed", response: this.snapshot("completed", [...this.progressItems, item], null) })
    ]
  }

  /**
   * Ends the response with `response.incomplete` (stopped by the user, or cut short): status
   * `incomplete`, `incomplete_details.reason`, and the output holding the text sent so far.
   * Nothing of this response follows it.
   */
  incomplete(reason: string): Array<OutboundFrame> {
    if (this._phase === "Ended") return []
    const frames = this.begin()
    const output = [...this.progressItems, ...(this._phase === "Open" ? [this.item("incomplete", [this.part(this.full)])] : [])]
    this._phase = "Ended"
    this.held = ""
    return [
      ...frames,
      ...this.frame({ type: "response.incomplete", response: this.snapshot("incomplete", output, null, reason) })
    ]
  }

  /** Ends the response with `response.failed`, starting it first if nothing was sent yet. */
  fail(failure: ReplyFailure): Array<OutboundFrame> {
    if (this._phase === "Ended") return []
    const frames = this.begin()
    this._phase = "Ended"
    this.held = ""
    return [...frames, ...this.frame({ type: "response.failed", response: this.snapshot("failed", [], failure) })]
  }
}

/**
 * The reference server's reading of the client's replies: each `"message"` envelope goes through
 * the same assembler the connector uses, and comes out as the events a server shows (a delta as
 * it streams, a reply completed (with its media, §8.1) or failed, a protocol violation). A reply that quotes a message
 * (`headers.replyToId`, §8.2, on any of its envelopes: the agent may quote after its reply began)
 * says so in each of its events from then on.
 *
 * @since 0.2.0
 */
import type { MediaPart } from "../Media.ts"
import * as Protocol from "../Protocol.ts"

/** What a reply did, as the server reports it. */
export type ReplyEvent =
  | { readonly _tag: "ReplyDelta"; readonly conversationId: string; readonly responseId: string; readonly delta: string; readonly replyToId?: string }
  | {
    readonly _tag: "ReplyCompleted"
    readonly conversationId: string
    readonly responseId: string
    readonly text: string
    readonly replyToId?: string
    /** The reply's images and files after its text (§8.1), when it has some. */
    readonly media?: ReadonlyArray<MediaPart>
  }
  | {
    readonly _tag: "ReplyFailed"
    readonly conversationId: string
    readonly responseId: string
    readonly code: string
    readonly message: string
    readonly replyToId?: string
  }
  | { readonly _tag: "Violation"; readonly violation: Protocol.Violation }

/** Replies in flight whose quote is remembered, at most (the oldest forgotten first). */
const MAX_QUOTING = 1000

/** A reader of replies with its own assembler state (one per server). */
export const replyReader = () => {
  const assembler = new Protocol.InboundAssembler(Protocol.defaultLimits)
  /** The message each reply in flight quotes, once one of its envelopes said so. */
  const quoting = new Map<string, string>()
  return (envelope: Protocol.MessageEnvelope, now: number): ReadonlyArray<ReplyEvent> => {
    const outputs = assembler.push(envelope, now)
    const event = envelope.data as Protocol.StreamingEvent & { readonly delta?: unknown; readonly response?: Protocol.ResponseSnapshot }
    const conversationId = envelope.headers.conversationId ?? ""
    const responseId = event.response_id ?? event.response?.id ?? ""
    if (envelope.headers.replyToId !== undefined && !quoting.has(responseId)) {
      quoting.set(responseId, envelope.headers.replyToId)
      if (quoting.size > MAX_QUOTING) quoting.delete(quoting.keys().next().value!)
    }
    const quote = (id: string) => {
      const replyToId = quoting.get(id)
      return replyToId === undefined ? {} : { replyToId }
    }
    const events: Array<ReplyEvent> = []
    if (outputs.length === 0 && event.type === "response.output_text.delta" && typeof event.delta === "string") {
      events.push({ _tag: "ReplyDelta", conversationId, responseId, delta: event.delta, ...quote(responseId) })
    }
    for (const output of outputs) {
      if (output._tag === "Message") {
        const { media, responseId: id, text } = output.message
        events.push({ _tag: "ReplyCompleted", conversationId, responseId: id, text, ...quote(id), ...(media === undefined ? {} : { media }) })
        quoting.delete(id)
      } else if (output._tag === "Violation" && output.violation.reason === "ResponseFailed") {
        const error = event.response?.error
        events.push({ _tag: "ReplyFailed", conversationId, responseId, code: error?.code ?? "unknown", message: error?.message ?? "", ...quote(responseId) })
        quoting.delete(responseId)
      } else if (output._tag === "Violation") {
        events.push({ _tag: "Violation", violation: output.violation })
      }
    }
    return events
  }
}

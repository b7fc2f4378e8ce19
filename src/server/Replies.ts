/**
 * The reference server's reading of the client's replies: each `"message"` envelope goes through
 * the same assembler the connector uses, and comes out as the events a server shows (a delta as
 * it streams, a reply completed or failed, a protocol violation).
 *
 * @since 0.2.0
 */
import * as Protocol from "../Protocol.ts"

/** What a reply did, as the server reports it. */
export type ReplyEvent =
  | { readonly _tag: "ReplyDelta"; readonly conversationId: string; readonly responseId: string; readonly delta: string }
  | { readonly _tag: "ReplyCompleted"; readonly conversationId: string; readonly responseId: string; readonly text: string }
  | { readonly _tag: "ReplyFailed"; readonly conversationId: string; readonly responseId: string; readonly code: string; readonly message: string }
  | { readonly _tag: "Violation"; readonly violation: Protocol.Violation }

/** A reader of replies with its own assembler state (one per server). */
export const replyReader = () => {
  const assembler = new Protocol.InboundAssembler(Protocol.defaultLimits)
  return (envelope: Protocol.MessageEnvelope, now: number): ReadonlyArray<ReplyEvent> => {
    const outputs = assembler.push(envelope, now)
    const event = envelope.data as Protocol.StreamingEvent & { readonly delta?: unknown; readonly response?: Protocol.ResponseSnapshot }
    const conversationId = envelope.headers.conversationId ?? ""
    const responseId = event.response_id ?? event.response?.id ?? ""
    const events: Array<ReplyEvent> = []
    if (outputs.length === 0 && event.type === "response.output_text.delta" && typeof event.delta === "string") {
      events.push({ _tag: "ReplyDelta", conversationId, responseId, delta: event.delta })
    }
    for (const output of outputs) {
      if (output._tag === "Message") {
        events.push({ _tag: "ReplyCompleted", conversationId, responseId: output.message.responseId, text: output.message.text })
      } else if (output._tag === "Violation" && output.violation.reason === "ResponseFailed") {
        const error = event.response?.error
        events.push({ _tag: "ReplyFailed", conversationId, responseId, code: error?.code ?? "unknown", message: error?.message ?? "" })
      } else if (output._tag === "Violation") {
        events.push({ _tag: "Violation", violation: output.violation })
      }
    }
    return events
  }
}

/** Helpers to build and read frames in tests. */
import { Result, Stream } from "effect"
import * as Protocol from "../../src/Protocol.ts"

/** Decodes a frame that must be a message envelope. */
export const decodeMessage = (json: string): Protocol.MessageEnvelope => {
  const envelope = Result.getOrThrow(Protocol.decodeFrame(json))
  if (!Protocol.isMessageEnvelope(envelope)) throw new Error(`not a message envelope: ${json}`)
  return envelope
}

/** Builds a server→client envelope around an event. */
let counter = 0
export const envelope = (
  event: Record<string, unknown> & { readonly type: string },
  headers: Partial<Protocol.Headers> = {}
): Protocol.MessageEnvelope =>
  decodeMessage(
    JSON.stringify({
      type: "message",
      headers: { messageId: `msg_1_${counter++}`, timestamp: 1, conversationId: "conv_1", ...headers },
      data: JSON.stringify(event)
    })
  )

/** All frames of one reply, collected. */
export const collectReply = (
  protocol: Protocol.Protocol["Service"],
  text: string | Stream.Stream<string, unknown>,
  conversationId = "conv_1"
) => Stream.runCollect(protocol.streamReply({ conversationId }, text))

/** The events inside frames. */
export const eventsOf = (frames: ReadonlyArray<{ readonly json: string }>) =>
  frames.map((frame) => decodeMessage(frame.json).data as { readonly type: string; readonly [key: string]: any })

/** The nine event types of one response, in docs/PROTOCOL.md §4 order (written out here, as the oracle). */
export const FULL_SEQUENCE = [
  "response.created",
  "response.in_progress",
  "response.output_item.added",
  "response.content_part.added",
  "response.output_text.delta",
  "response.output_text.done",
  "response.content_part.done",
  "response.output_item.done",
  "response.completed"
]

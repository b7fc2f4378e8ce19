/** Helpers to build and read frames in tests. */
import { Stream } from "effect"
import * as Protocol from "../../src/Protocol.ts"

export { decodeMessage, eventsOf } from "../../src/testing/Frames.ts"
/** Builds a server→client envelope around an event. */
export { userEnvelope as envelope } from "../../src/testing/Frames.ts"

/** All frames of one reply, collected. */
export const collectReply = (
  protocol: Protocol.Protocol["Service"],
  text: string | Stream.Stream<string, unknown>,
  conversationId = "conv_1"
) => Stream.runCollect(protocol.streamReply({ conversationId }, text))

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

/**
 * Frame builders for tests: server→connector envelopes around Open Responses events, and the
 * decoding of what the connector wrote.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import * as Protocol from "../Protocol.ts"

/** Decodes a frame that must be a `"message"` envelope; throws otherwise (a test failure). */
export const decodeMessage = (json: string): Protocol.MessageEnvelope => {
  const envelope = Result.getOrThrow(Protocol.decodeFrame(json))
  if (!Protocol.isMessageEnvelope(envelope)) throw new Error(`not a message envelope: ${json}`)
  return envelope
}

let counter = 0

/** The JSON of a server→connector envelope around `event`; `messageId` is fresh unless given. */
export const userFrame = (
  event: Record<string, unknown> & { readonly type: string },
  headers: Partial<Protocol.Headers> = {}
): string =>
  JSON.stringify({
    type: "message",
    headers: { messageId: `msg_1_${counter++}`, timestamp: 1, conversationId: "conv_1", ...headers },
    data: JSON.stringify(event)
  })

/** The same envelope, decoded. */
export const userEnvelope = (
  event: Record<string, unknown> & { readonly type: string },
  headers: Partial<Protocol.Headers> = {}
): Protocol.MessageEnvelope => decodeMessage(userFrame(event, headers))

/**
 * The frames of one whole user message in the oldest server form: `response.in_progress`, one
 * delta per piece, `response.completed`.
 */
export const userMessageFrames = (options: {
  readonly conversationId: string
  readonly responseId: string
  readonly pieces: ReadonlyArray<string>
  readonly senderId?: string | undefined
}): Array<string> => {
  const headers = {
    conversationId: options.conversationId,
    ...(options.senderId === undefined ? {} : { senderId: options.senderId })
  }
  const base = { response_id: options.responseId }
  return [
    userFrame({ type: "response.in_progress", sequence_number: 0, ...base }, headers),
    ...options.pieces.map((delta, i) =>
      userFrame({ type: "response.output_text.delta", sequence_number: i + 1, delta, ...base }, headers)
    ),
    userFrame({ type: "response.completed", sequence_number: options.pieces.length + 1, ...base }, headers)
  ]
}

/** The events inside frames the connector wrote. */
export const eventsOf = (frames: ReadonlyArray<string | { readonly json: string }>) =>
  frames.map((frame) =>
    decodeMessage(typeof frame === "string" ? frame : frame.json).data as { readonly type: string; readonly [key: string]: any }
  )

/**
 * A user message as the reference server sends it: the streamed Open Responses events of one
 * message with role `user`, each in its own `"message"` envelope, sender headers included.
 *
 * @since 0.2.0
 */
import type { EventProfile } from "../Config.ts"
import * as Protocol from "../Protocol.ts"

export interface UserMessage {
  readonly conversationId: string
  readonly text: string
  readonly senderId?: string | undefined
  readonly senderName?: string | undefined
  /** The client it goes to. Default the server's first account. */
  readonly clientId?: string | undefined
}

/** The frames of one user message, and the event type of each (for pacing the deltas). */
export const encodeUserMessage = (message: UserMessage, options: {
  readonly token: string
  readonly startedAt: number
  readonly profile: EventProfile
  readonly deltaSize: number
}): { readonly responseId: string; readonly frames: ReadonlyArray<{ readonly type: string; readonly json: string }> } => {
  const encoder = new Protocol.ReplyEncoder({
    conversationId: message.conversationId,
    token: options.token,
    startedAt: options.startedAt,
    model: "instaclaw-reference",
    profile: options.profile,
    deltaSize: options.deltaSize,
    role: "user"
  })
  const headers = {
    ...(message.senderId === undefined ? {} : { senderId: message.senderId }),
    ...(message.senderName === undefined ? {} : { senderName: message.senderName })
  }
  const withSender = (json: string) => {
    if (message.senderId === undefined && message.senderName === undefined) return json
    const envelope = JSON.parse(json)
    return JSON.stringify({ ...envelope, headers: { ...envelope.headers, ...headers } })
  }
  const frames = [...encoder.open(), ...encoder.text(message.text), ...encoder.complete()]
  return { responseId: encoder.responseId, frames: frames.map((frame) => ({ type: frame.type, json: withSender(frame.json) })) }
}

/**
 * A user message as the reference server sends it: the streamed Open Responses events of one
 * message with role `user`, each in its own `"message"` envelope, sender and group headers
 * (§8.2) included, and its media parts after its text (§8.1). `featuresNeeded` says which
 * features of the client's hello it needs (§6).
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import type { EventProfile } from "../Config.ts"
import type { MediaPart } from "../Media.ts"
import * as Protocol from "../Protocol.ts"
import type { Feature } from "../Wire.ts"

export interface UserMessage {
  readonly conversationId: string
  readonly text: string
  readonly senderId?: string | undefined
  readonly senderName?: string | undefined
  /** The client it goes to. Default the server's first account. */
  readonly clientId?: string | undefined
  /** Group chats (§8.2): sent as headers, only to a client that agreed on `groups`. */
  readonly chatType?: "direct" | "group" | undefined
  readonly groupName?: string | undefined
  /** Whether the message @-mentions the client's agent; absent when the server cannot tell. */
  readonly mentioned?: boolean | undefined
  /** The `response_id` of the message this one replies to or quotes, and its text. */
  readonly replyToId?: string | undefined
  readonly replyToText?: string | undefined
  /** Images, files and videos after the text (§8.1), only to a client that agreed on `media`; the text may then be "". */
  readonly media?: ReadonlyArray<MediaPart> | undefined
}

/** The §8.2 headers of a message, those it has. */
const groupHeaders = (message: UserMessage) => {
  const { chatType, groupName, mentioned, replyToId, replyToText } = message
  return {
    ...(chatType === undefined ? {} : { chatType }),
    ...(groupName === undefined ? {} : { groupName }),
    ...(mentioned === undefined ? {} : { mentioned }),
    ...(replyToId === undefined ? {} : { replyToId }),
    ...(replyToText === undefined ? {} : { replyToText })
  }
}

/**
 * The features a client's hello must have listed for it to be sent `message` (§6): `groups` for
 * a group message or any other §8.2 header (a plain `chatType: "direct"` needs nothing), `media`
 * for a message with media.
 */
export const featuresNeeded = (message: UserMessage): ReadonlyArray<Feature> => {
  const { chatType, ...rest } = groupHeaders(message)
  const groups: ReadonlyArray<Feature> = chatType === "group" || Object.keys(rest).length > 0 ? ["groups"] : []
  return (message.media?.length ?? 0) > 0 ? [...groups, "media"] : groups
}

/**
 * A user message was not sent: it needs a feature (§6) the client's latest link did not agree on
 * in its hello (or no link has said hello yet). Nothing is kept; send it again once it has.
 */
export class FeatureNotAgreedError extends Schema.TaggedError<FeatureNotAgreedError>()("FeatureNotAgreedError", {
  clientId: Schema.String,
  feature: Schema.String
}) {
  override get message() {
    return `Not sent: client ${this.clientId} has not agreed on "${this.feature}" in a hello, and this message needs it`
  }
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
    ...(message.senderName === undefined ? {} : { senderName: message.senderName }),
    ...groupHeaders(message)
  }
  const plain = Object.keys(headers).length === 0
  const withSender = (json: string) => {
    if (plain) return json
    const envelope = JSON.parse(json)
    return JSON.stringify({ ...envelope, headers: { ...envelope.headers, ...headers } })
  }
  // A message of media only opens no text part (§8.1).
  const text = message.text.trim() === "" && (message.media?.length ?? 0) > 0 ? [] : [...encoder.open(), ...encoder.text(message.text)]
  const media = (message.media ?? []).flatMap((part) => encoder.media({ _tag: "Media", ...part }))
  const frames = [...text, ...media, ...encoder.complete()]
  return { responseId: encoder.responseId, frames: frames.map((frame) => ({ type: frame.type, json: withSender(frame.json) })) }
}

/**
 * A line typed at `insta-claw serve`, as a user message: `text` goes to conv_1; `@conv_2 text` to
 * another direct chat; `#grp_1 ada: text` is said in group grp_1 by sender ada (`#grp_1 text`: by
 * sender "user"), with `mentioned: true` when the text contains the word `@agent` (the header is
 * absent otherwise: the server cannot tell).
 */
export const fromServeLine = (line: string): UserMessage => {
  const group = /^#(\S+)\s+(?:([^\s:]+):\s+)?([\s\S]+)$/.exec(line)
  if (group !== null) {
    const conversationId = group[1]!, sender = group[2] ?? "user", text = group[3]!
    return {
      conversationId,
      text,
      senderId: sender,
      senderName: sender,
      chatType: "group",
      groupName: conversationId,
      ...(/@agent\b/i.test(text) ? { mentioned: true } : {})
    }
  }
  const to = /^@(\S+)\s+([\s\S]+)$/.exec(line)
  return { conversationId: to?.[1] ?? "conv_1", text: to?.[2] ?? line }
}

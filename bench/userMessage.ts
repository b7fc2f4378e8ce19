/**
 * One user message as the load servers (bench/echo/server.ts, bench/burst/server.ts) send it:
 * the Open Responses events of docs/PROTOCOL.md §4 with role `user`, each in its envelope, built
 * by the same encoder the reference server uses (full profile, 7-character deltas).
 */
import { ReplyEncoder } from "../src/ReplyEncoder.ts"

/**
 * Message `index`: its `response_id` (what a v2 client's ack names) and its JSON frames. Its ids
 * are unique to this process, this moment and index.
 */
export const userMessage = (index: number, conversationId: string, text: string): { readonly responseId: string; readonly frames: Array<string> } => {
  const encoder = new ReplyEncoder({
    conversationId,
    token: `u${process.pid}x${Date.now().toString(36)}x${index}`,
    startedAt: Date.now(),
    model: "instaclaw-reference",
    profile: "full",
    deltaSize: 7,
    role: "user"
  })
  const frames = [...encoder.open(), ...encoder.text(text), ...encoder.complete()].map((frame) => frame.json)
  return { responseId: encoder.responseId, frames }
}

/** The JSON frames of message `index`. */
export const userMessageFrames = (index: number, conversationId: string, text: string): Array<string> =>
  userMessage(index, conversationId, text).frames

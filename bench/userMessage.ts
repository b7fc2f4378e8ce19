/**
 * One user message as the load servers (bench/echo/server.ts, bench/burst/server.ts) send it:
 * the Open Responses events of docs/PROTOCOL.md §4 with role `user`, each in its envelope, built
 * by the same encoder the reference server uses (full profile, 7-character deltas).
 */
import { ReplyEncoder } from "../src/ReplyEncoder.ts"

/** The JSON frames of message `index` (its ids are unique to this process, this moment and index). */
export const userMessageFrames = (index: number, conversationId: string, text: string): Array<string> => {
  const encoder = new ReplyEncoder({
    conversationId,
    token: `u${process.pid}x${Date.now().toString(36)}x${index}`,
    startedAt: Date.now(),
    model: "instaclaw-reference",
    profile: "full",
    deltaSize: 7,
    role: "user"
  })
  return [...encoder.open(), ...encoder.text(text), ...encoder.complete()].map((frame) => frame.json)
}

/**
 * The in-process baseline of the outbound and latency phases: what a user would hand-write
 * instead of the connector — a bare `ws` client building the same envelopes with JSON.stringify
 * (the echo baseline's `replyFrames`).
 */
import WebSocket from "ws"
import { replyFrames } from "../echo/baseline.ts"

/** A bare `ws` client, authenticated as the reference server's demo account. */
export const openBaseline = (url: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { "x-app-key": "demo", "x-app-secret": "demo-secret" } })
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  })

/** The events of docs/PROTOCOL.md §4 for one reply, hand-built, with deltas of `deltaSize`. */
export const baselineFrames = (conversationId: string, text: string, deltaSize: number): Array<string> => {
  const deltas: Array<string> = []
  for (let i = 0; i < text.length; i += deltaSize) deltas.push(text.slice(i, i + deltaSize))
  return replyFrames(conversationId, text, deltas)
}

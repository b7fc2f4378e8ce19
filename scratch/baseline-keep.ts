/**
 * The baseline for the echo phase: what a careful person would hand-write instead of the
 * connector — a plain `ws` client that authenticates, reads each envelope, checks the fields it
 * uses (type, ids, sequence, delta), assembles the deltas per response, and answers each
 * completed message with a full Open Responses reply (the nine-plus events of docs/PROTOCOL.md §4,
 * a delta per word, as the echo agent writes it) built with JSON.stringify.
 *
 * No reconnect, no heartbeat, no delivery confirmation, no bounds: that is the point of a
 * baseline. Run as its own process by bench/run.ts: `node bench/echo/baseline.ts <url>`.
 */
import WebSocket from "ws"

let replies = 0
/** The events of one reply, each in its envelope. Shared with the in-process bench phases. */
export const replyFrames = (conversationId: string, text: string, deltas: ReadonlyArray<string>): Array<string> => {
  const id = `b${process.pid}_${replies++}`
  const responseId = `resp_${id}`
  const itemId = `item_${id}`
  const now = Date.now()
  const response = (status: string, output: Array<unknown>) => ({
    id: responseId, object: "response", created_at: Math.floor(now / 1000), completed_at: status === "completed" ? Math.floor(now / 1000) : null,
    status, incomplete_details: null, model: "openclaw", previous_response_id: null, instructions: null, output, error: null,
    tools: [], tool_choice: "auto", truncation: "disabled", parallel_tool_calls: false, text: { format: { type: "text" } },
    top_p: 1, presence_penalty: 0, frequency_penalty: 0, top_logprobs: 0, temperature: 1, reasoning: null, usage: null,
    max_output_tokens: null, max_tool_calls: null, store: false, background: false, service_tier: "default",
    metadata: { conversation_id: conversationId }, safety_identifier: null, prompt_cache_key: null
  })
  const part = (t: string) => ({ type: "output_text", text: t, annotations: [] })
  const item = (status: string, content: Array<unknown>) => ({ type: "message", id: itemId, status, role: "assistant", content })
  const events: Array<Record<string, unknown>> = [
    { type: "response.created", response: response("in_progress", []) },
    { type: "response.in_progress", response: response("in_progress", []) },
    { type: "response.output_item.added", output_index: 0, item: item("in_progress", []) },
    { type: "response.content_part.added", item_id: itemId, output_index: 0, content_index: 0, part: part("") }
  ]
  for (const delta of deltas) events.push({ type: "response.output_text.delta", item_id: itemId, output_index: 0, content_index: 0, delta, logprobs: [] })
  events.push(
    { type: "response.output_text.done", item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] },
    { type: "response.content_part.done", item_id: itemId, output_index: 0, content_index: 0, part: part(text) },
    { type: "response.output_item.done", output_index: 0, item: item("completed", [part(text)]) },
    { type: "response.completed", response: response("completed", [item("completed", [part(text)])]) }
  )
  return events.map((event, sequence) =>
    JSON.stringify({
      type: "message",
      headers: { messageId: `msg_${now}_${id}_${sequence}`, timestamp: now, conversationId },
      data: JSON.stringify({ ...event, sequence_number: sequence, event_id: `evt_${id}_${sequence}`, response_id: responseId })
    })
  )
}

/** Splits text into words with their trailing whitespace, as the echo agent does. */
const words = (text: string) => text.match(/\S+\s*|\s+/g) ?? []

/** Connects and echoes until the socket closes. */
export const runBaselineEcho = (url: string) => {
  const socket = new WebSocket(url, { headers: { "x-app-key": "demo", "x-app-secret": "demo-secret" } })
  /** Deltas so far, per response id; the next sequence number expected. */
  const open = new Map<string, { conversationId: string; text: string; next: number }>()
  socket.on("message", (data) => {
    const envelope = JSON.parse(String(data))
    if (envelope.type !== "message" || typeof envelope.data !== "string") return
    const conversationId = envelope.headers?.conversationId
    const event = JSON.parse(envelope.data)
    const responseId = event.response_id
    if (typeof conversationId !== "string" || typeof responseId !== "string" || typeof event.type !== "string" || typeof event.sequence_number !== "number") return
    let state = open.get(responseId)
    if (state === undefined) {
      if (event.type !== "response.created") return
      state = { conversationId, text: "", next: 0 }
      open.set(responseId, state)
    }
    if (event.sequence_number !== state.next) return
    state.next++
    if (event.type === "response.output_text.delta") {
      if (typeof event.delta === "string") state.text += event.delta
    } else if (event.type === "response.completed") {
      open.delete(responseId)
      { const fr = replyFrames(conversationId, state.text, words(state.text)); for (const frame of fr) socket.send(frame); (globalThis as any).__keep ??= new Set(); (globalThis as any).__keep.add(fr.map((f) => Buffer.from(f))); const kept = [...(globalThis as any).__keep].at(-1); setTimeout(() => (globalThis as any).__keep.delete(kept), 3) }
    }
  })
  socket.on("error", (error) => {
    console.error(`baseline: ${error.message}`)
    process.exitCode = 1
  })
  return socket
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const socket = runBaselineEcho(process.argv[2]!)
  process.on("SIGTERM", () => socket.close(1000))
}

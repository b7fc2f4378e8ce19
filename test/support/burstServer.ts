/**
 * A plain `ws` server with DEFAULT options — what a user's own InstaClaw server most likely is —
 * run as its own process (`node test/support/burstServer.ts <messages> <conversations>`). It
 * writes every user message AT ONCE to the first client, with no window, then counts the replies.
 *
 * It prints one JSON line at start (`{ port }`) and one at the end:
 * `{ answered, duplicates, missing, connections, closes, seconds }` — `answered` counts
 * distinct messages whose reply came back complete with the message's own text, `duplicates`
 * replies beyond the first for a message, `closes` the links that ended before the end. It ends
 * once every message is answered, or `BURST_TIMEOUT_MS` (default 60 s) after the start.
 */
import { WebSocketServer } from "ws"
import { userMessageFrames } from "../../src/testing/Frames.ts"

const messages = Number(process.argv[2] ?? "5000")
const conversations = Number(process.argv[3] ?? "50")
const timeoutMillis = Number(process.env.BURST_TIMEOUT_MS ?? "60000")

const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
const replies = new Map<number, number>()
let connections = 0
let closes = 0
let startedAt = 0
let finished = false

const textOf = (index: number) => `burst message ${index}`

const finish = () => {
  if (finished) return
  finished = true
  let duplicates = 0
  for (const count of replies.values()) duplicates += count - 1
  const result = {
    answered: replies.size,
    duplicates,
    missing: messages - replies.size,
    connections,
    closes,
    seconds: (performance.now() - startedAt) / 1000
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
  for (const client of server.clients) client.terminate()
  server.close(() => process.exit(0))
}

server.on("connection", (socket) => {
  connections++
  socket.on("close", () => {
    if (!finished) closes++
  })
  socket.on("message", (data) => {
    const envelope = JSON.parse(String(data))
    const event = JSON.parse(envelope.data)
    if (event.type !== "response.completed") return
    const text: string = event.response.output[0].content[0].text
    const index = Number(/^burst message (\d+)$/.exec(text)?.[1] ?? Number.NaN)
    if (Number.isNaN(index)) return
    replies.set(index, (replies.get(index) ?? 0) + 1)
    // A moment more, for a reply sent twice to show.
    if (replies.size === messages) setTimeout(finish, 300)
  })
  if (connections > 1) return
  startedAt = performance.now()
  setTimeout(finish, timeoutMillis).unref()
  // Everything at once: ws queues what the socket cannot take yet.
  for (let i = 0; i < messages; i++) {
    const text = textOf(i)
    const frames = userMessageFrames({
      conversationId: `conv_${i % conversations}`,
      responseId: `resp_burst_${i}`,
      pieces: [text.slice(0, 6), text.slice(6)],
      senderId: `user_${i % conversations}`
    })
    for (const frame of frames) socket.send(frame)
  }
})

server.on("listening", () => {
  const address = server.address()
  if (typeof address === "object" && address !== null) process.stdout.write(`${JSON.stringify({ port: address.port })}\n`)
})

/**
 * The load server for the cross-process echo phase, run as its own process by bench/run.ts
 * (`node bench/echo/server.ts`, driven over IPC). It speaks InstaClaw's side of the wire: checks
 * `x-app-key`/`x-app-secret` on the upgrade (401 otherwise), answers pings (ws does), and sends
 * user messages built by the same encoder the reference server uses (bench/userMessage.ts: full
 * profile, 7-character deltas), `window` of them unanswered at a time across `conversations`, or
 * at a fixed pace.
 *
 * It is plain `ws` rather than the reference server's Effect program so that the server is never
 * what limits the round trips being measured: it reports its own CPU time, and the bench prints
 * it next to the client's. It counts a round trip when a `response.completed` arrives for a
 * conversation and checks that the reply's text is the message's text.
 *
 * IPC: the parent sends `{ type: "run", ... }`; the server answers `{ type: "listening", port }`
 * at start, then `{ type: "started" }` when a client has connected and the run begins, and
 * `{ type: "done", roundTrips, seconds, serverCpuMs, mismatches }` at the end.
 */
import { WebSocket, WebSocketServer } from "ws"
import { userMessageFrames } from "../userMessage.ts"

export interface EchoRun {
  readonly type: "run"
  readonly messages: number
  readonly conversations: number
  readonly text: string
  /** Unanswered messages allowed at once (throughput mode). */
  readonly window: number
  /** Messages per second, sent regardless of answers (paced mode); overrides `window`. */
  readonly perSecond?: number | undefined
}

const send = (message: unknown) => process.send!(message)

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  verifyClient: ({ req }: { req: import("node:http").IncomingMessage }) => req.headers["x-app-key"] === "demo" && req.headers["x-app-secret"] === "demo-secret"
})

let pending: EchoRun | undefined
let client: WebSocket | undefined

const userFrames = (index: number, run: EchoRun): Array<string> => userMessageFrames(index, `conv_${index % run.conversations}`, run.text)

const start = (socket: WebSocket, run: EchoRun) => {
  send({ type: "started" })
  const cpuAtStart = process.cpuUsage()
  const startedAt = performance.now()
  let sent = 0
  let answered = 0
  let mismatches = 0
  const sendOne = () => {
    for (const json of userFrames(sent, run)) socket.send(json)
    sent++
  }
  const finish = () => {
    const cpu = process.cpuUsage(cpuAtStart)
    send({ type: "done", roundTrips: answered, seconds: (performance.now() - startedAt) / 1000, serverCpuMs: (cpu.user + cpu.system) / 1000, mismatches })
    socket.removeAllListeners("message")
    if (timer !== undefined) clearInterval(timer)
  }
  socket.on("message", (data) => {
    const envelope = JSON.parse(String(data))
    if (envelope.type !== "message") return
    const event = JSON.parse(envelope.data)
    if (event.type !== "response.completed") return
    const text = event.response?.output?.[0]?.content?.[0]?.text
    if (text !== run.text) mismatches++
    answered++
    if (answered === run.messages) return finish()
    if (run.perSecond === undefined && sent < run.messages) sendOne()
  })
  let timer: NodeJS.Timeout | undefined
  if (run.perSecond === undefined) {
    while (sent < Math.min(run.window, run.messages)) sendOne()
  } else {
    // Paced: every 10 ms, as many messages as are due by now.
    const perSecond = run.perSecond
    timer = setInterval(() => {
      const due = Math.min(run.messages, Math.floor(((performance.now() - startedAt) / 1000) * perSecond))
      while (sent < due) sendOne()
      if (sent === run.messages) clearInterval(timer)
    }, 10)
  }
}

server.on("connection", (socket) => {
  client?.terminate()
  client = socket
  socket.on("error", () => {})
  if (pending !== undefined) {
    const run = pending
    pending = undefined
    start(socket, run)
  }
})

process.on("message", (message: EchoRun) => {
  if (message.type !== "run") return
  if (client !== undefined && client.readyState === WebSocket.OPEN) start(client, message)
  else pending = message
})
process.on("disconnect", () => {
  for (const socket of server.clients) socket.terminate()
  server.close()
})

server.on("listening", () => {
  const address = server.address()
  send({ type: "listening", port: typeof address === "object" && address !== null ? address.port : 0 })
})

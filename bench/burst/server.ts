/**
 * The load server of the burst phase, run as its own process by bench/phases/burst.ts
 * (`node bench/burst/server.ts`, driven over IPC). It is what a user's InstaClaw server may well
 * be: a plain `ws` WebSocketServer with DEFAULT options (only host and port are given, so `ws`'s
 * own limits apply, among them terminating a peer that leaves too many pings unanswered).
 *
 * A run: once the client dials `/user-ws/<run id>`, the server writes `messages` complete user
 * messages at once — no window, no waiting for replies — each as the Open Responses events of
 * docs/PROTOCOL.md §4 in envelopes (bench/userMessage.ts), text `burst message <i>`, over
 * `conversations` conversations. It then counts the replies: a `response.completed` answers the
 * message its text names; the same `response_id` again is a re-send (counted once), another
 * `response_id` for an answered message is a second answer. A close of the client's socket, or
 * a second connection for the run, is a dropped link (the client keeps being heard after it).
 *
 * The run ends when every message is answered (plus a short settle, to catch late second
 * answers), when no new answer came for `quietMs`, or at `deadlineMs` — never later.
 *
 * IPC: at start `{ type: "listening", port }`; the parent sends `{ type: "run", id, ... }`; the
 * server answers `{ type: "started", id }` when the client has connected and the burst is
 * written, and `{ type: "done", id, ... }` (a `BurstOutcome`) at the end. Connections for any
 * other path than the current run's are terminated (a stopped client's late reconnect).
 */
import type { IncomingMessage } from "node:http"
import { performance } from "node:perf_hooks"
import { type WebSocket, WebSocketServer } from "ws"
import { userMessageFrames } from "../userMessage.ts"

export interface BurstRun {
  readonly type: "run"
  readonly id: string
  readonly messages: number
  readonly conversations: number
  /** The run ends when no new answer came for this long. */
  readonly quietMs: number
  /** The run ends this long after the burst was written, whatever happened. */
  readonly deadlineMs: number
  /** After the last answer, how long to keep listening for second answers. */
  readonly settleMs: number
}

export interface BurstOutcome {
  readonly type: "done"
  readonly id: string
  readonly messages: number
  /** Messages answered at least once. */
  readonly answered: number
  /** Messages answered by more than one response (each extra response counted). */
  readonly answeredTwice: number
  /** `response.completed` of a response already counted (a re-send after a reconnect). */
  readonly resent: number
  /** Replies whose text names no message of this run. */
  readonly unknownReplies: number
  /** Connections the client made for this run (1 if the link never dropped). */
  readonly connections: number
  /** Every close of a run socket before the end: its code, and how many messages were answered by then. */
  readonly closes: ReadonlyArray<{ readonly code: number; readonly answeredBefore: number }>
  /** The burst's size on the wire (the frames' JSON, without WebSocket framing). */
  readonly burstMiB: number
  /** From the first frame written to the last first answer. */
  readonly seconds: number
  /** Writing the burst (handing its frames, built beforehand, to `ws`). */
  readonly writeSeconds: number
  readonly ended: "answered" | "quiet" | "deadline"
  readonly serverCpuMs: number
}

const send = (message: unknown) => process.send!(message)

/** DEFAULT options: nothing but where to listen. */
const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })

const TEXT_PREFIX = "burst message "

/** What a reply's `response.completed` says: its response id and the text answered, if any. */
const completedReply = (data: unknown): { responseId: string; text: unknown } | undefined => {
  const json = String(data)
  // Most of a reply's frames are not its end: skip them without parsing, so that the server's
  // own work stays small beside the client's.
  if (!json.includes("response.completed")) return undefined
  const envelope = JSON.parse(json)
  if (envelope.type !== "message" || typeof envelope.data !== "string") return undefined
  const event = JSON.parse(envelope.data)
  if (event.type !== "response.completed") return undefined
  return { responseId: String(event.response_id), text: event.response?.output?.[0]?.content?.[0]?.text }
}

/** The count of one run's answers. */
const makeTally = (messages: number) => {
  const responseOf = new Map<number, string>()
  const seenResponses = new Set<string>()
  let answeredTwice = 0
  let resent = 0
  let unknownReplies = 0
  return {
    /** Counts one completed reply; true if it answered a message for the first time. */
    add: (responseId: string, text: unknown): boolean => {
      if (seenResponses.has(responseId)) {
        resent++
        return false
      }
      seenResponses.add(responseId)
      const index = typeof text === "string" && text.startsWith(TEXT_PREFIX) ? Number(text.slice(TEXT_PREFIX.length)) : Number.NaN
      if (!Number.isInteger(index) || index < 0 || index >= messages) {
        unknownReplies++
        return false
      }
      if (responseOf.has(index)) {
        answeredTwice++
        return false
      }
      responseOf.set(index, responseId)
      return true
    },
    answered: () => responseOf.size,
    counts: () => ({ answered: responseOf.size, answeredTwice, resent, unknownReplies })
  }
}

/** One run, from its first connection to its `done`. */
const makeRun = (run: BurstRun) => {
  const tally = makeTally(run.messages)
  // Built before the client connects, so that the burst is written at once and the time to
  // encode it is not counted against the client.
  const burst: Array<string> = []
  for (let i = 0; i < run.messages; i++) burst.push(...userMessageFrames(i, `conv_${i % run.conversations}`, `${TEXT_PREFIX}${i}`))
  const burstMiB = burst.reduce((sum, frame) => sum + Buffer.byteLength(frame), 0) / 1048576
  const sockets = new Set<WebSocket>()
  const closes: Array<{ code: number; answeredBefore: number }> = []
  let begun = false
  let startedAt = 0
  let writeSeconds = 0
  let lastAnswerAt = 0
  let lastProgressAt = 0
  let allAnsweredAt: number | undefined
  let cpuAtStart: NodeJS.CpuUsage | undefined
  let timer: NodeJS.Timeout | undefined
  let finished = false

  const finish = (ended: BurstOutcome["ended"]) => {
    if (finished) return
    finished = true
    clearInterval(timer)
    for (const socket of sockets) socket.off("message", onReply).off("close", onClose)
    const cpu = process.cpuUsage(cpuAtStart)
    const outcome: BurstOutcome = {
      type: "done",
      id: run.id,
      messages: run.messages,
      ...tally.counts(),
      connections: sockets.size,
      closes,
      burstMiB,
      seconds: tally.answered() === 0 ? 0 : ((allAnsweredAt ?? lastAnswerAt) - startedAt) / 1000,
      writeSeconds,
      ended,
      serverCpuMs: (cpu.user + cpu.system) / 1000
    }
    send(outcome)
  }
  const onReply = (data: unknown) => {
    const reply = completedReply(data)
    if (reply === undefined) return
    if (!tally.add(reply.responseId, reply.text)) return
    lastAnswerAt = lastProgressAt = performance.now()
    if (tally.answered() === run.messages) allAnsweredAt = lastAnswerAt
  }
  /** Ends the run once it is answered and settled, quiet, or past its deadline. */
  const check = () => {
    const now = performance.now()
    if (allAnsweredAt !== undefined) {
      if (now - allAnsweredAt >= run.settleMs) finish("answered")
    } else if (now - lastProgressAt >= run.quietMs) finish("quiet")
    if (now - startedAt >= run.deadlineMs) finish("deadline")
  }
  const onClose = (code: number) => closes.push({ code, answeredBefore: tally.answered() })
  const attach = (socket: WebSocket) => {
    sockets.add(socket)
    socket.on("message", onReply).once("close", onClose)
  }
  /** The first connection: write every message at once, then listen. */
  const begin = (socket: WebSocket) => {
    begun = true
    attach(socket)
    cpuAtStart = process.cpuUsage()
    startedAt = performance.now()
    for (const frame of burst) socket.send(frame)
    burst.length = 0
    lastProgressAt = performance.now()
    writeSeconds = (lastProgressAt - startedAt) / 1000
    timer = setInterval(check, 50)
    send({ type: "started", id: run.id })
  }
  return {
    id: run.id,
    isFinished: () => finished,
    /** A connection for this run: the first begins it, any later one is a reconnect. */
    connected: (socket: WebSocket) => (begun ? attach(socket) : begin(socket))
  }
}

let current: ReturnType<typeof makeRun> | undefined

const hasCredentials = (req: IncomingMessage) => req.headers["x-app-key"] === "demo" && req.headers["x-app-secret"] === "demo-secret"

server.on("connection", (socket, req) => {
  socket.on("error", () => {})
  const id = /^\/user-ws\/([^/?]+)/.exec(req.url ?? "")?.[1]
  if (!hasCredentials(req)) return socket.close(4001, "unauthorized")
  if (current === undefined || current.isFinished() || id !== current.id) return socket.terminate()
  current.connected(socket)
})

process.on("message", (message: BurstRun) => {
  if (message.type === "run") current = makeRun(message)
})
process.on("disconnect", () => {
  for (const socket of server.clients) socket.terminate()
  server.close()
})

server.on("listening", () => {
  const address = server.address()
  send({ type: "listening", port: typeof address === "object" && address !== null ? address.port : 0 })
})

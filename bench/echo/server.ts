/**
 * The load server for the cross-process echo phases (echo, paced, acks), run as its own process
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
 * Protocol (docs/PROTOCOL.md §6–§7): by default it is a v1 server — a client's `hello` is counted
 * and otherwise ignored, and the run begins as soon as the client connects. A run with
 * `protocol: 2` makes it a v2 server listing `ack`: it answers the client's hello with its own,
 * begins the run only then (so every message may be acknowledged), and after the last answer
 * waits for the acks still on their way (each comes once the reply is confirmed), until every
 * message sent is acknowledged or none came for `ackQuietMs`. Either way it counts the acks it
 * receives: distinct messages acknowledged, acks of a message already acknowledged, acks naming
 * no message of the run or the wrong conversation.
 *
 * IPC: the parent sends `{ type: "run", id, ... }`; the server answers `{ type: "listening", port }`
 * at start, then `{ type: "started", id }` when a client has connected (and, for v2, said hello)
 * and the run begins, and `{ type: "done", id, ... }` (an `EchoDone`) at the end. A new run
 * abandons one still going.
 */
import { WebSocket, WebSocketServer } from "ws"
import { userMessage } from "../userMessage.ts"

export interface EchoRun {
  readonly type: "run"
  /** Names the run's `started` and `done`. */
  readonly id: string
  readonly messages: number
  readonly conversations: number
  readonly text: string
  /** Unanswered messages allowed at once (throughput mode). */
  readonly window: number
  /** Messages per second, sent regardless of answers (paced mode); overrides `window`. */
  readonly perSecond?: number | undefined
  /** 2: answer the client's hello listing `ack`, and wait for the acks. Default 1. */
  readonly protocol?: 1 | 2 | undefined
  /** v2: after the last answer, how long to wait without a new ack before giving up on the rest. */
  readonly ackQuietMs?: number | undefined
}

export interface EchoDone {
  readonly type: "done"
  readonly id: string
  readonly roundTrips: number
  /** From the run's start to the last answer. */
  readonly seconds: number
  readonly serverCpuMs: number
  readonly mismatches: number
  /** Hellos the client sent on this connection, and whether the first listed protocol 2 and `ack`. */
  readonly hellos: number
  readonly helloOffersAck: boolean
  /** Messages of this run acknowledged (each counted once). */
  readonly acks: number
  /** Acks of a message already acknowledged. */
  readonly ackDuplicates: number
  /** Acks naming no message of this run, or another conversation than the message's. */
  readonly ackStrays: number
  /** From the run's start to the last ack (0 without acks). */
  readonly ackSeconds: number
}

const send = (message: unknown) => process.send!(message)

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  verifyClient: ({ req }: { req: import("node:http").IncomingMessage }) => req.headers["x-app-key"] === "demo" && req.headers["x-app-secret"] === "demo-secret"
})

/** The hello of a v2 server that will use acks (§6), as a server written against the page would send it. */
const serverHello = () => {
  const now = Date.now()
  return JSON.stringify({
    type: "hello",
    headers: { messageId: `msg_${now}_echoserverhello`, timestamp: now },
    data: JSON.stringify({ protocol: 2, features: ["ack"] })
  })
}

/** The connected client and what it said before any run began. */
let client: { readonly socket: WebSocket; hellos: number; helloOffersAck: boolean; answered: boolean } | undefined
let pending: EchoRun | undefined
/** The run going on: what to do with each envelope of the client's. */
let current: { readonly onEnvelope: (envelope: any) => void; readonly abandon: () => void } | undefined

const start = (socket: WebSocket, run: EchoRun) => {
  send({ type: "started", id: run.id })
  const cpuAtStart = process.cpuUsage()
  const startedAt = performance.now()
  /** The conversation of each message sent, by its response id: what its ack must name. */
  const conversationOf = new Map<string, string>()
  const acked = new Set<string>()
  let ackDuplicates = 0
  let ackStrays = 0
  let lastAckAt = 0
  let sent = 0
  let answered = 0
  let answeredAt = 0
  let mismatches = 0
  let finished = false
  let timer: NodeJS.Timeout | undefined
  let ackWait: NodeJS.Timeout | undefined
  const sendOne = () => {
    const conversationId = `conv_${sent % run.conversations}`
    const message = userMessage(sent, conversationId, run.text)
    conversationOf.set(message.responseId, conversationId)
    for (const json of message.frames) socket.send(json)
    sent++
  }
  const finish = () => {
    if (finished) return
    finished = true
    clearInterval(timer)
    clearInterval(ackWait)
    const cpu = process.cpuUsage(cpuAtStart)
    const done: EchoDone = {
      type: "done",
      id: run.id,
      roundTrips: answered,
      seconds: (answeredAt - startedAt) / 1000,
      serverCpuMs: (cpu.user + cpu.system) / 1000,
      mismatches,
      hellos: client?.hellos ?? 0,
      helloOffersAck: client?.helloOffersAck ?? false,
      acks: acked.size,
      ackDuplicates,
      ackStrays,
      ackSeconds: acked.size === 0 ? 0 : (lastAckAt - startedAt) / 1000
    }
    send(done)
    current = undefined
  }
  /** All answered: done now (v1), or once every message is acknowledged or the acks stop coming (v2). */
  const allAnswered = () => {
    answeredAt = performance.now()
    if (run.protocol !== 2 || acked.size === sent) return finish()
    const quietMs = run.ackQuietMs ?? 5_000
    ackWait = setInterval(() => {
      if (performance.now() - Math.max(lastAckAt, answeredAt) >= quietMs) finish()
    }, 50)
  }
  const onAck = (envelope: any) => {
    let responseId: unknown
    try {
      responseId = JSON.parse(envelope.data).response_id
    } catch {
      responseId = undefined
    }
    lastAckAt = performance.now()
    const conversationId = typeof responseId === "string" ? conversationOf.get(responseId) : undefined
    if (conversationId === undefined || envelope.headers?.conversationId !== conversationId) ackStrays++
    else if (acked.has(responseId as string)) ackDuplicates++
    else acked.add(responseId as string)
    if (answeredAt > 0 && acked.size === sent) finish()
  }
  const onEnvelope = (envelope: any) => {
    if (envelope.type === "ack") return onAck(envelope)
    if (envelope.type !== "message" || answeredAt > 0) return
    const event = JSON.parse(envelope.data)
    if (event.type !== "response.completed") return
    const text = event.response?.output?.[0]?.content?.[0]?.text
    if (text !== run.text) mismatches++
    answered++
    if (answered === run.messages) return allAnswered()
    if (run.perSecond === undefined && sent < run.messages) sendOne()
  }
  current = {
    onEnvelope,
    abandon: () => {
      finished = true
      clearInterval(timer)
      clearInterval(ackWait)
    }
  }
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

/** Begins the pending run once its client is there: at once for v1, after the client's hello for v2. */
const maybeStart = () => {
  if (pending === undefined || client === undefined || client.socket.readyState !== WebSocket.OPEN) return
  if (pending.protocol === 2) {
    if (client.hellos === 0) return
    if (!client.answered) {
      client.answered = true
      client.socket.send(serverHello())
    }
  }
  const run = pending
  pending = undefined
  start(client.socket, run)
}

/** A client's hello: does it offer protocol 2 with `ack`? */
const offersAck = (envelope: any): boolean => {
  try {
    const hello = JSON.parse(envelope.data)
    return hello.protocol === 2 && Array.isArray(hello.features) && hello.features.includes("ack")
  } catch {
    return false
  }
}

server.on("connection", (socket) => {
  client?.socket.terminate()
  const connected = { socket, hellos: 0, helloOffersAck: false, answered: false }
  client = connected
  socket.on("error", () => {})
  socket.on("close", () => {
    if (client === connected) client = undefined
  })
  socket.on("message", (data) => {
    if (client !== connected) return
    const envelope = JSON.parse(String(data))
    if (envelope.type === "hello") {
      if (connected.hellos++ === 0) connected.helloOffersAck = offersAck(envelope)
      return maybeStart()
    }
    current?.onEnvelope(envelope)
  })
  maybeStart()
})

process.on("message", (message: EchoRun) => {
  if (message.type !== "run") return
  current?.abandon()
  current = undefined
  pending = message
  maybeStart()
})
process.on("disconnect", () => {
  current?.abandon()
  for (const socket of server.clients) socket.terminate()
  server.close()
})

server.on("listening", () => {
  const address = server.address()
  send({ type: "listening", port: typeof address === "object" && address !== null ? address.port : 0 })
})

/**
 * Connection against real WebSocket peers on 127.0.0.1. Time still runs on `TestClock` (the
 * reconnect and heartbeat timers), while the sockets are real: tests wait for real events
 * through queues and state changes, never by sleeping.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Queue, Stream } from "effect"
import { TestClock } from "effect/testing"
import { spawn } from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { WebSocket } from "ws"
import type { ConnectorInput } from "../src/Config.ts"
import type { Connection } from "../src/Connection.ts"
import * as Protocol from "../src/Protocol.ts"
import { forceGc } from "./support/gc.ts"
import { ioTurn, openConnectionWith, throughCloseGrace } from "./support/connection.ts"
import { wsServer } from "./support/wsServer.ts"

const SECRET = "loopback-secret-4f9a"

/** The latest `ws` client the connection dialled, to count its listeners. */
let latestClient: WebSocket | undefined
/** Called when the connection pauses its socket (backpressure). */
let onPause: (() => void) | undefined
class TrackedWebSocket extends WebSocket {
  constructor(url: string, options: WebSocket.ClientOptions) {
    super(url, options)
    latestClient = this
  }
  override pause() {
    super.pause()
    onPause?.()
  }
}

const openConnection = (url: string, config: ConnectorInput = {}, options: { readonly keepLogs?: boolean } = {}) =>
  openConnectionWith(url, { clientId: "app", clientSecret: SECRET, ...config }, { ...options, WebSocketClass: TrackedWebSocket })

const awaitState = (connection: Connection["Service"], wanted: string) =>
  connection.stateChanges.pipe(Stream.filter((s) => s === wanted), Stream.runHead)

const sequenceOf = (json: string) => JSON.parse(JSON.parse(json).data).sequence_number as number
const typeOf = (json: string) => JSON.parse(JSON.parse(json).data).type as string

const takeUntilCompleted = (received: Queue.Queue<string>) =>
  Effect.gen(function*() {
    const frames: Array<string> = []
    while (frames.length === 0 || typeOf(frames.at(-1)!) !== "response.completed") frames.push(yield* Queue.take(received))
    return frames
  })

describe("Connection over loopback", () => {
  it.effect("sends x-app-key and x-app-secret on the upgrade; closing the scope closes with 1000", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { close, connection } = yield* openConnection(server.url)
      const peer = yield* Queue.take(server.connections)
      assert.strictEqual(peer.headers["x-app-key"], "app")
      assert.strictEqual(peer.headers["x-app-secret"], SECRET)
      yield* awaitState(connection, "connected")
      yield* close
      assert.strictEqual(yield* Effect.promise(() => peer.closed), 1000)
    }))

  it.effect("401 on upgrade: AuthenticationError, retries at the capped delay, secret never printed", () =>
    Effect.gen(function*() {
      const server = yield* wsServer({ rejectWith: 401 })
      const { connection, logs } = yield* openConnection(server.url)
      yield* awaitState(connection, "reconnecting")
      const error = Option.getOrThrow(yield* connection.lastError)
      assert.strictEqual(error._tag, "AuthenticationError")
      assert.strictEqual(error.message, "InstaClaw rejected the credentials (HTTP 401 on upgrade): check clientId/clientSecret")
      assert.strictEqual(server.upgrades.length, 1)
      yield* TestClock.adjust("31 seconds")
      while (server.upgrades.length < 2) yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
      assert.strictEqual(server.upgrades[1]!["x-app-secret"], SECRET, "the server does see the secret")
      assert.notInclude(logs.text(), SECRET)
      assert.notInclude(JSON.stringify(error), SECRET)
      assert.match(logs.text(), /\[ERROR\] \[InstaClawConnector\] InstaClaw rejected the credentials/)
    }))

  it.effect("a drop mid-response: reconnects and re-sends the cut-off response in full", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { connection } = yield* openConnection(server.url)
      const first = yield* Queue.take(server.connections)
      yield* awaitState(connection, "connected")
      const pieces = yield* Queue.unbounded<string, import("effect").Cause.Done>()
      const send = yield* Effect.forkChild(
        connection.sendResponse(Protocol.make({ deltaSize: 4 }).streamReply({ conversationId: "conv_9" }, Stream.fromQueue(pieces)))
      )
      yield* Queue.offer(pieces, "Hello ")
      const beforeDrop = [0, 1, 2, 3, 4, 5].map(() => "")
      for (let i = 0; i < beforeDrop.length; i++) beforeDrop[i] = yield* Queue.take(first.received)
      first.socket.terminate()
      yield* awaitState(connection, "reconnecting")
      yield* Queue.offer(pieces, "world")
      yield* Queue.end(pieces)
      yield* TestClock.adjust("2 seconds")
      const second = yield* Queue.take(server.connections)
      const resent = yield* takeUntilCompleted(second.received)
      yield* Fiber.join(send)
      assert.deepStrictEqual(resent.map(sequenceOf), resent.map((_, i) => i))
      assert.deepStrictEqual(resent.slice(0, 6), beforeDrop, "same event ids and sequence numbers as before the drop")
      const done = JSON.parse(JSON.parse(resent.find((f) => typeOf(f) === "response.output_text.done")!).data)
      assert.strictEqual(done.text, "Hello world")
    }))

  it.effect("a server that stops answering pings is dropped at the threshold and dialled again", () =>
    Effect.gen(function*() {
      const server = yield* wsServer({ autoPong: false })
      const { connection, logs } = yield* openConnection(server.url)
      const first = yield* Queue.take(server.connections)
      yield* awaitState(connection, "connected")
      yield* TestClock.adjust("90 seconds")
      assert.strictEqual(yield* Effect.promise(() => first.closed), 1006, "terminated, no closing handshake")
      yield* TestClock.adjust("2 seconds")
      yield* Queue.take(server.connections)
      yield* awaitState(connection, "connected")
      assert.match(logs.text(), /Connection lost: No frame from the server for 90000 ms/)
    }))

  it.effect("malformed JSON, binary frames and unknown envelope types are logged and skipped", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { connection, logs } = yield* openConnection(server.url)
      const peer = yield* Queue.take(server.connections)
      yield* awaitState(connection, "connected")
      const next = yield* Effect.forkChild(Stream.runHead(connection.inbound))
      peer.socket.send("{definitely not json")
      peer.socket.send(Buffer.from([0xde, 0xad]))
      peer.socket.send(JSON.stringify({ type: "typing", headers: {} }))
      peer.socket.send(JSON.stringify({ type: "message", headers: { messageId: "m", timestamp: 1, conversationId: "c" }, data: "{\"type\":5}" }))
      peer.socket.send(JSON.stringify({ type: "message", headers: { messageId: "ok", timestamp: 1, conversationId: "c" }, data: JSON.stringify({ type: "response.created", response: { id: "r" } }) }))
      const envelope = Option.getOrThrow(yield* Fiber.join(next))
      assert.strictEqual(envelope.headers.messageId, "ok")
      assert.strictEqual(yield* connection.state, "connected")
      assert.strictEqual(yield* Queue.size(server.connections), 0, "no reconnect")
      const errors = logs.lines.filter((l) => l.method === "error").map((l) => l.line)
      assert.strictEqual(errors.length, 3)
      assert.match(errors[1]!, /Skipped a binary frame of 2 bytes/)
    }))

  it.effect("a handler that waits pauses the real socket once 64 KiB wait behind it; released, every envelope arrives in order", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { connection } = yield* openConnection(server.url)
      const peer = yield* Queue.take(server.connections)
      yield* awaitState(connection, "connected")
      const paused = Effect.callback<void>((resume) => {
        onPause = () => resume(Effect.void)
      })
      const gate = yield* Deferred.make<void>()
      const seen = yield* Queue.unbounded<string>()
      yield* connection.handleInbound((envelope) => {
        Queue.offerUnsafe(seen, envelope.headers.messageId)
        return envelope.headers.messageId === "0" ? Deferred.await(gate) : undefined
      })
      const padding = "x".repeat(1000)
      for (let i = 0; i < 200; i++) {
        peer.socket.send(JSON.stringify({ type: "message", headers: { messageId: String(i), timestamp: 1, conversationId: "c" }, data: JSON.stringify({ type: "response.in_progress", response_id: "r", padding }) }))
      }
      yield* paused
      assert.isTrue(latestClient!.isPaused, "ws stopped reading")
      assert.strictEqual(yield* Queue.size(seen), 1, "nothing overtook the waiting handler")
      yield* Deferred.succeed(gate, undefined)
      const order: Array<string> = []
      for (let i = 0; i < 200; i++) order.push(yield* Queue.take(seen))
      assert.deepStrictEqual(order, Array.from({ length: 200 }, (_, i) => String(i)))
      assert.isFalse(latestClient!.isPaused, "reading again")
      assert.strictEqual(yield* connection.state, "connected")
    }).pipe(Effect.scoped, Effect.ensuring(Effect.sync(() => {
      onPause = undefined
    }))))

  it.effect("a frame over maxFrameBytes closes with 1009, then reconnects", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { connection, logs } = yield* openConnection(server.url, { maxFrameBytes: 1024 })
      const peer = yield* Queue.take(server.connections)
      yield* awaitState(connection, "connected")
      peer.socket.send("x".repeat(2048))
      yield* throughCloseGrace(connection)
      assert.strictEqual(yield* Effect.promise(() => peer.closed), 1009)
      yield* TestClock.adjust("2 seconds")
      yield* Queue.take(server.connections)
      assert.match(logs.text(), /A frame exceeded maxFrameBytes; closed with 1009/)
    }))

  it.effect("a 64 MiB frame: reading stops at the limit, 1009 reaches the server, the socket ends within the close grace", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const limit = 1024 * 1024
      const { connection } = yield* openConnection(server.url, { maxFrameBytes: limit })
      const peer = yield* Queue.take(server.connections)
      yield* awaitState(connection, "connected")
      const client = latestClient!
      const tcp = (client as unknown as { readonly _socket: net.Socket })._socket
      const refused = new Promise<void>((resolve) => client.once("error", () => resolve()))
      peer.socket.send(Buffer.alloc(64 * 1024 * 1024, 120), { binary: false })
      yield* Effect.promise(() => refused)
      // The socket could read all it wants now: on loopback, far more than the limit in this many
      // turns (ws discarded the rest of the frame as it read it).
      for (let turn = 0; turn < 300; turn++) yield* ioTurn
      assert.isBelow(tcp.bytesRead, limit + 1024 * 1024, `read ${tcp.bytesRead} bytes of a 64 MiB frame`)
      // Through the close grace, with the sockets given many turns to read: the link's end must
      // not resume reading either.
      for (let step = 0; step < 100 && (yield* connection.state) !== "reconnecting"; step++) {
        yield* TestClock.adjust("25 millis")
        for (let turn = 0; turn < 10; turn++) yield* ioTurn
      }
      assert.strictEqual(yield* connection.state, "reconnecting", "the link ended within its close grace")
      assert.isTrue(tcp.destroyed, "the socket is gone")
      assert.strictEqual(yield* Effect.promise(() => peer.closed), 1009)
      assert.isBelow(tcp.bytesRead, limit + 1024 * 1024, `read ${tcp.bytesRead} bytes in all`)
    }))

  it.effect("send while no server is reachable waits sendTimeout, then fails", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const { connection } = yield* openConnection(`ws://127.0.0.1:${port}/user-ws/`)
      const send = yield* Effect.forkChild(connection.sendResponse(Protocol.make().streamReply({ conversationId: "c" }, "hi")))
      yield* awaitState(connection, "reconnecting")
      yield* TestClock.adjust("10 seconds")
      const exit = yield* Fiber.await(send)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.strictEqual((exit.cause.reasons[0] as any).error.message, "WebSocket is not connected")
    }))

  it.effect("a listener that accepts TCP but never upgrades is abandoned after connectTimeout", () =>
    Effect.gen(function*() {
      const accepted = yield* Queue.unbounded<net.Socket>()
      const tcp = yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<net.Server>((resolve) => {
          // Reads (and ignores) the upgrade request, so it sees the client hang up.
          const server = net.createServer((socket) => Queue.offerUnsafe(accepted, socket.resume()))
          server.listen(0, "127.0.0.1", () => resolve(server))
        })),
        (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
      const port = (tcp.address() as net.AddressInfo).port
      const { connection } = yield* openConnection(`ws://127.0.0.1:${port}/user-ws/`, { connectTimeout: 10_000 })
      const firstSocket = yield* Queue.take(accepted)
      const firstClosed = new Promise((resolve) => firstSocket.once("close", resolve))
      yield* TestClock.adjust("10 seconds")
      yield* Effect.promise(() => firstClosed)
      assert.strictEqual(Option.getOrThrow(yield* connection.lastError)._tag, "OpenTimeout")
      yield* TestClock.adjust("2 seconds")
      const secondSocket = yield* Queue.take(accepted)
      secondSocket.destroy()
    }))

  it.live("a process that only ran a Connection exits on its own once the scope closes", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const script = fileURLToPath(new URL("./support/connectAndClose.ts", import.meta.url))
      const child = spawn(process.execPath, [script, server.url], { stdio: ["ignore", "pipe", "inherit"] })
      let output = ""
      child.stdout.on("data", (chunk) => (output += chunk))
      const peer = yield* Queue.take(server.connections)
      const code = yield* Effect.promise(() => new Promise<number | null>((resolve) => child.on("exit", resolve)))
      assert.strictEqual(code, 0)
      assert.strictEqual(output, "closed\n")
      assert.strictEqual(yield* Effect.promise(() => peer.closed), 1000)
    }))

  it.effect("1000 connect/drop cycles leave no growth in listeners, handles or heap", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      // Log lines are formatted (debug on) but not kept: kept lines would grow the heap by design.
      const { connection } = yield* openConnection(server.url, {}, { keepLogs: false })
      const states = yield* Queue.unbounded<string>()
      yield* Effect.forkScoped(Stream.runForEach(connection.stateChanges, (s) => Queue.offer(states, s)))
      const waitFor = (wanted: string) => Effect.gen(function*() {
        while ((yield* Queue.take(states)) !== wanted) { /* skip */ }
      })
      const listenersOf = (ws: WebSocket) => ws.eventNames().reduce((n, name) => n + ws.listenerCount(name), 0)
      const cycle = Effect.gen(function*() {
        const peer = yield* Queue.take(server.connections)
        yield* waitFor("connected")
        const live = listenersOf(latestClient!)
        peer.socket.terminate()
        yield* waitFor("reconnecting")
        yield* TestClock.adjust("2 seconds")
        return live
      })
      for (let i = 0; i < 50; i++) yield* cycle
      const listenersBefore = yield* cycle
      forceGc()
      const before = { handles: process.getActiveResourcesInfo().length, heap: process.memoryUsage().heapUsed }
      let listeners = 0
      for (let i = 0; i < 950; i++) listeners = yield* cycle
      forceGc()
      const after = { handles: process.getActiveResourcesInfo().length, heap: process.memoryUsage().heapUsed }
      assert.strictEqual(listeners, listenersBefore, "listeners on a live client socket")
      assert.isAtMost(after.handles, before.handles + 2, "active handles")
      // Measured ~2 MB: JIT code and the test server's own record of each upgrade's headers.
      // A socket leaked per cycle is ~20 KB, i.e. ~19 MB here.
      assert.isBelow(after.heap - before.heap, 4 * 1024 * 1024, "heap growth over 950 cycles")
    }), { timeout: 60_000 })
})

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

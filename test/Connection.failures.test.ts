/**
 * Every connection failure says why, against real peers on 127.0.0.1 (and a name lookup that
 * fails in the process, so nothing leaves this machine): the OS error, the refused upgrade's
 * status and `Retry-After`, the close code and reason. Time runs on `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Queue, Random, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as net from "node:net"
import { WebSocket } from "ws"
import type { Connection } from "../src/Connection.ts"
import { openConnectionWith, throughCloseGrace } from "./support/connection.ts"
import { wsServer } from "./support/wsServer.ts"

const credentials = { clientId: "app", clientSecret: "failures-secret-3c1e" }

const awaitFailure = (connection: Connection["Service"]) =>
  connection.statusChanges.pipe(Stream.filter((s) => s.lastError !== undefined), Stream.runHead, Effect.map((s) => Option.getOrThrow(s).lastError!))

/** A port with nothing listening on it. */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
)

/** A `ws` client whose name lookup fails at once, as for a host that does not exist. */
class UnresolvableWebSocket extends WebSocket {
  constructor(url: string, options: WebSocket.ClientOptions) {
    super(url, {
      ...options,
      lookup: ((hostname: string, _options: unknown, callback: (error: Error) => void) =>
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }))) as never
    })
  }
}

describe("connection failures say why", () => {
  it.effect("refused: the OS error code and text, as \"could not connect\", and the stack at debug", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const { connection, logs } = yield* openConnectionWith(`ws://127.0.0.1:${port}/user-ws/`, credentials)
      const reason = yield* awaitFailure(connection)
      assert.strictEqual(reason._tag, "OpenFailed")
      assert.strictEqual(reason.message, `Could not open the WebSocket: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port}`)
      assert.include(logs.text(), `[WARN] [InstaClawConnector] Could not connect: Could not open the WebSocket: ECONNREFUSED`)
      assert.notInclude(logs.text(), "Connection lost", "lost only for a link that was open")
      assert.match(logs.text(), /\[DEBUG\] \[InstaClawConnector\] The failure's cause:[\s\S]*\n\s+at /, "the stack, with debug on")
    }))

  it.effect("an unresolvable host: ENOTFOUND", () =>
    Effect.gen(function*() {
      const { connection, logs } = yield* openConnectionWith("wss://nohost.invalid/user-ws/", credentials, { WebSocketClass: UnresolvableWebSocket })
      const reason = yield* awaitFailure(connection)
      assert.strictEqual(reason.message, "Could not open the WebSocket: ENOTFOUND: getaddrinfo ENOTFOUND nohost.invalid")
      assert.include(logs.text(), "Could not connect: Could not open the WebSocket: ENOTFOUND")
    }))

  it.effect("TLS to a plain port: the TLS error", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { connection, logs } = yield* openConnectionWith(server.url.replace("ws://", "wss://"), credentials)
      const reason = yield* awaitFailure(connection)
      assert.strictEqual(reason._tag, "OpenFailed")
      assert.match(reason.message, /^Could not open the WebSocket: (EPROTO|ERR_SSL_[A-Z_]+): .*(wrong version number|packet length too long|SSL)/i)
      assert.match(logs.text(), /Could not connect: Could not open the WebSocket: (EPROTO|ERR_SSL_)/)
    }))

  it.effect("503 with Retry-After: the status line, and the next attempt waits what the server asked", () =>
    Effect.gen(function*() {
      const server = yield* wsServer({ rejectWith: 503, rejectMessage: "Service Unavailable", rejectHeaders: { "Retry-After": "20" } })
      const { connection, logs } = yield* openConnectionWith(server.url, credentials)
      const reason = yield* awaitFailure(connection).pipe(Random.withSeed("retry-after"))
      assert.strictEqual(reason.message, "Upgrade refused with HTTP 503 Service Unavailable (Retry-After 20 s)")
      while (!logs.text().includes("Reconnecting: attempt 1")) yield* Effect.yieldNow
      const delay = Number(/Reconnecting: attempt 1 in (\d+) ms/.exec(logs.text())![1])
      assert.isAtLeast(delay, 20_000, "not the 1 s of a first retry")
      assert.isBelow(delay, 21_000)
      yield* TestClock.adjust("19 seconds")
      assert.strictEqual(server.upgrades.length, 1, "no attempt before Retry-After")
    }))

  it.effect("a close with code and reason: both in the line, as \"connection lost\"", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { connection, logs } = yield* openConnectionWith(server.url, credentials)
      const peer = yield* Queue.take(server.connections)
      yield* connection.stateChanges.pipe(Stream.filter((s) => s === "connected"), Stream.runHead)
      peer.socket.close(4000, "maintenance window")
      const reason = yield* awaitFailure(connection)
      assert.strictEqual(reason.message, "The socket closed with code 4000: maintenance window")
      assert.include(logs.text(), "[WARN] [InstaClawConnector] Connection lost: The socket closed with code 4000: maintenance window")
    }))

  it.effect("a frame over the limit sent in fragments still ends with 1009 reaching the server", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { connection } = yield* openConnectionWith(server.url, credentials)
      const peer = yield* Queue.take(server.connections)
      yield* connection.stateChanges.pipe(Stream.filter((s) => s === "connected"), Stream.runHead)
      // 1 KB fragments, past a 1 MiB limit: ws refuses mid-message, while more keep arriving.
      for (let i = 0; i < 1100; i++) peer.socket.send("x".repeat(1024), { fin: i === 1099 })
      // Reading stops at the limit: the server's close frame is never read, so the link lets go
      // at the end of its close grace.
      yield* throughCloseGrace(connection)
      assert.strictEqual(yield* Effect.promise(() => peer.closed), 1009)
      assert.strictEqual((yield* awaitFailure(connection))._tag, "FrameTooLarge")
    }))

  it.effect("a link reset by the peer: ECONNRESET in the line", () =>
    Effect.gen(function*() {
      const server = yield* wsServer()
      const { connection, logs } = yield* openConnectionWith(server.url, credentials)
      const peer = yield* Queue.take(server.connections)
      yield* connection.stateChanges.pipe(Stream.filter((s) => s === "connected"), Stream.runHead)
      // Once the client's hello is in, so that the reset meets a read, not that write.
      while (peer.hellos.length === 0) yield* Effect.promise(() => new Promise((resolve) => peer.socket.once("message", resolve)))
      ;(peer.socket as unknown as { _socket: net.Socket })._socket.resetAndDestroy()
      const reason = yield* awaitFailure(connection)
      assert.strictEqual(reason.message, "The socket closed with code 1006: read ECONNRESET")
      assert.include(logs.text(), "[WARN] [InstaClawConnector] Connection lost: The socket closed with code 1006: read ECONNRESET")
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Random, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import { type ConnectorInput, ConnectorConfig } from "../src/Config.ts"
import { Connection, defaultReconnect } from "../src/Connection.ts"
import { resettingOnOpen } from "../src/connection/Reconnect.ts"
import * as InstaLogger from "../src/Logger.ts"
import * as Protocol from "../src/Protocol.ts"
import { fakeDialer, type FakeSocket } from "../src/testing/FakeDialer.ts"
import { captureSink } from "./support/logs.ts"

const credentials = { clientId: "app", clientSecret: "very-secret-value", url: "ws://127.0.0.1:1/user-ws/" }

/** Runs `body` with a Connection over the fake dialer, logs captured, in the test's scope. */
const withConnection = <A, E>(
  behaviour: (socket: FakeSocket, attempt: number) => void,
  body: (connection: Connection["Service"], dial: ReturnType<typeof fakeDialer>) => Effect.Effect<A, E>,
  config: ConnectorInput = {}
) =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const dial = fakeDialer(behaviour, () => clock.currentTimeMillisUnsafe())
    const logs = captureSink()
    const layer = Connection.layerNoDeps.pipe(
      Layer.provide(dial.layer),
      Layer.provide(ConnectorConfig.layerFromInput({ ...credentials, ...config })),
      Layer.provideMerge(InstaLogger.layer({ debug: true, sink: logs.sink }))
    )
    const result = yield* Effect.gen(function*() {
      return yield* body(yield* Connection, dial)
    }).pipe(Effect.provide(layer))
    return { result, dial, logs }
  })

const awaitState = (connection: Connection["Service"], wanted: string) =>
  connection.stateChanges.pipe(Stream.filter((s) => s === wanted), Stream.runHead)

/** Lets the forked supervisor run until the dialer has made `count` sockets. */
const dialed = (dial: ReturnType<typeof fakeDialer>, count = 1) =>
  Effect.gen(function*() {
    while (dial.sockets.length < count) yield* Effect.yieldNow
    return dial.sockets[count - 1]!
  })

/** A reply's pieces: "one ", "two ", "three" — the server cuts the first link as "two " comes. */
const piecesCuttingFirstLink = (dial: ReturnType<typeof fakeDialer>) =>
  Stream.make("one ", "two ", "three").pipe(
    Stream.tap((piece) => (piece === "two " ? Effect.sync(() => dial.sockets[0]!.serverClose(1006)) : Effect.void))
  )

const diffs = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - times[i]!)

/** The frame of a `response.in_progress` event for response `r` in conversation `c`, with envelope id `id`. */
const inProgressFrame = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: "message", headers: { messageId: id, timestamp: 1, conversationId: "c" }, data: JSON.stringify({ type: "response.in_progress", response_id: "r", ...extra }) })

describe("Connection under TestClock", () => {
  it.effect("reconnect delays: min(1000·2^n, 30000) + uniform(0, 1000), reproducible with a seeded Random", () =>
    Effect.gen(function*() {
      const run = withConnection((s) => s.refuse(), (_c, dial) => Effect.map(TestClock.adjust("400 seconds"), () => dial.dialTimes.slice()))
      const first = (yield* run.pipe(Random.withSeed("backoff"))).result
      const second = (yield* run.pipe(Random.withSeed("backoff"))).result
      const delays = diffs(first)
      assert.deepStrictEqual(diffs(second).slice(0, 12), delays.slice(0, 12))
      assert.isAtLeast(delays.length, 10)
      delays.forEach((delay, n) => {
        const backoff = Math.min(1000 * 2 ** n, 30_000)
        assert.isAtLeast(delay, backoff, `attempt ${n}`)
        assert.isBelow(delay, backoff + 1000, `attempt ${n}`)
      })
      assert.isTrue(delays.slice(5).every((d) => d >= 30_000 && d < 31_000), "capped at 30 s")
      const other = (yield* run.pipe(Random.withSeed("another seed"))).result
      assert.notDeepEqual(diffs(other), delays, "jitter comes from Random")
    }))

  it.effect("logs every attempt at warn with its number and delay", () =>
    Effect.gen(function*() {
      const { logs } = yield* withConnection((s) => s.refuse(), () => TestClock.adjust("10 seconds"))
      const warns = logs.lines.filter((l) => l.method === "warn" && l.line.includes("Reconnecting"))
      assert.isAtLeast(warns.length, 3)
      assert.match(warns[0]!.line, /\[WARN\] \[InstaClawConnector\] Reconnecting: attempt 1 in 1\d{3} ms$/)
      assert.match(warns[1]!.line, /Reconnecting: attempt 2 in [23]\d{3} ms$/)
    }))

  it.effect("the backoff counter resets once a connection opens", () =>
    Effect.gen(function*() {
      // attempts 0-3 refused, 4 opens (then the server closes it), the rest refused
      const { dial, result } = yield* withConnection(
        (s, attempt) => (attempt === 4 ? s.open() : s.refuse()),
        (connection, dial) =>
          Effect.gen(function*() {
            yield* TestClock.adjust("40 seconds")
            assert.strictEqual(yield* connection.state, "connected")
            assert.strictEqual(yield* connection.reconnectAttempts, 0)
            dial.sockets[4]!.serverClose(1011)
            yield* TestClock.adjust("200 seconds")
            return dial.dialTimes.slice()
          })
      )
      const delays = diffs(result)
      // before the open: 1, 2, 4, 8 s (+ jitter); after the drop: from 1 s again
      assert.isTrue(delays[3]! >= 8000 && delays[3]! < 9000)
      const dropAt = dial.dialTimes[4]! // the link opened at this time and dropped at 40 s
      const afterDrop = result[5]! - 40_000
      assert.isAtLeast(dropAt, 15_000)
      assert.isTrue(afterDrop >= 1000 && afterDrop < 2000, `first delay after the drop was ${afterDrop}`)
      assert.isTrue(delays[5]! >= 2000 && delays[5]! < 3000)
    }))

  it.effect("pings every heartbeatInterval while the server answers", () =>
    Effect.gen(function*() {
      const { result } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* TestClock.adjust("29999 millis")
            const before = socket.pings
            yield* TestClock.adjust("1 millis")
            const atFirst = socket.pings
            yield* TestClock.adjust("270 seconds")
            return { before, atFirst, after: socket.pings, state: yield* connection.state, dials: dial.sockets.length }
          })
      )
      assert.deepStrictEqual(result, { before: 0, atFirst: 1, after: 10, state: "connected", dials: 1 })
    }))

  it.effect("drops a link silent for exactly timeoutThreshold, with terminate, then reconnects", () =>
    Effect.gen(function*() {
      const { logs, result } = yield* withConnection(
        (s) => {
          s.autoPong = false
          s.open()
        },
        (_connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* TestClock.adjust("89999 millis")
            const alive = !socket.terminated
            yield* TestClock.adjust("1 millis")
            const dropped = socket.terminated
            yield* TestClock.adjust("2 seconds")
            return { alive, dropped, pings: socket.pings, dials: dial.sockets.length }
          })
      )
      assert.deepStrictEqual({ ...result, pings: undefined }, { alive: true, dropped: true, pings: undefined, dials: 2 })
      assert.isAtLeast(result.pings, 2, "pinged at 30 s and 60 s")
      assert.match(logs.text(), /No frame from the server for 90000 ms/)
    }))

  it.effect("any frame from the server extends liveness", () =>
    Effect.gen(function*() {
      const { result } = yield* withConnection(
        (s) => {
          s.autoPong = false
          s.open()
        },
        (_connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* TestClock.adjust("60 seconds")
            socket.receive(JSON.stringify({ type: "presence" }))
            yield* Effect.yieldNow
            yield* TestClock.adjust("89 seconds")
            const aliveAt149 = !socket.terminated
            socket.pong()
            yield* TestClock.adjust("89 seconds")
            const aliveAt238 = !socket.terminated
            yield* TestClock.adjust("1 seconds")
            return { aliveAt149, aliveAt238, droppedAt239: socket.terminated }
          })
      )
      assert.deepStrictEqual(result, { aliveAt149: true, aliveAt238: true, droppedAt239: true })
    }))

  it.effect("maxReconnectAttempts ends reconnecting with a clear error", () =>
    Effect.gen(function*() {
      const { dial, result } = yield* withConnection(
        (s) => s.refuse(),
        (connection) =>
          Effect.gen(function*() {
            const fatal = yield* Effect.forkChild(connection.awaitFatal)
            yield* TestClock.adjust("60 seconds")
            const exit = yield* Fiber.await(fatal)
            return { exit, state: yield* connection.state }
          }),
        { maxReconnectAttempts: 3 }
      )
      assert.strictEqual(dial.sockets.length, 4)
      assert.isTrue(Exit.isFailure(result.exit))
      const error = Exit.isFailure(result.exit) ? result.exit.cause.reasons[0] : undefined
      assert.include(String((error as any)?.error?.message), "Gave up after 3 reconnect attempts")
      assert.strictEqual((error as any)?.error?.reason._tag, "ReconnectAttemptsExhausted")
      assert.strictEqual(result.state, "disconnected")
    }))

  it.effect("an auth close code is an AuthenticationError and waits the capped delay", () =>
    Effect.gen(function*() {
      const { dial, logs, result } = yield* withConnection(
        (s, attempt) => (attempt === 0 ? s.open() : s.refuse(401)),
        (connection, dial) =>
          Effect.gen(function*() {
            ;(yield* dialed(dial)).serverClose(4401, "bad key")
            yield* Effect.yieldNow
            yield* TestClock.adjust("29999 millis")
            const dialsBefore = dial.sockets.length
            yield* TestClock.adjust("1001 millis")
            return { dialsBefore, error: yield* connection.lastError }
          })
      )
      assert.strictEqual(result.dialsBefore, 1)
      assert.strictEqual(dial.sockets.length, 2)
      const error = Option.getOrThrow(result.error)
      assert.strictEqual(error._tag, "AuthenticationError")
      assert.match(error.message, /check clientId\/clientSecret/)
      assert.match(logs.text(), /\[ERROR\] \[InstaClawConnector\] InstaClaw rejected the credentials \(close code 4401\): check clientId\/clientSecret/)
      assert.notInclude(logs.text(), "very-secret-value")
    }))

  it.effect("authenticates the upgrade with x-app-key and x-app-secret", () =>
    Effect.gen(function*() {
      const { dial } = yield* withConnection((s) => s.open(), (_c, dial) => dialed(dial))
      assert.deepStrictEqual(dial.sockets[0]!.options.headers, { "x-app-key": "app", "x-app-secret": "very-secret-value" })
      assert.strictEqual(dial.sockets[0]!.url, credentials.url)
    }))

  it.effect("an upgrade that hangs is abandoned after connectTimeout", () =>
    Effect.gen(function*() {
      const { dial, result } = yield* withConnection(
        () => {},
        (connection, dial) =>
          Effect.gen(function*() {
            yield* TestClock.adjust("9999 millis")
            const before = dial.sockets[0]!.terminated
            yield* TestClock.adjust("1 millis")
            return { before, after: dial.sockets[0]!.terminated, error: yield* connection.lastError }
          }),
        { connectTimeout: 10_000 }
      )
      assert.deepStrictEqual([result.before, result.after], [false, true])
      assert.strictEqual(Option.getOrThrow(result.error)._tag, "OpenTimeout")
      assert.strictEqual(dial.sockets.length, 1)
    }))

  it.effect("decodes inbound frames; malformed, binary and unknown ones are logged and skipped", () =>
    Effect.gen(function*() {
      const good = JSON.stringify({ type: "message", headers: { messageId: "m1", timestamp: 1, conversationId: "c" }, data: JSON.stringify({ type: "response.created", response: { id: "r" } }) })
      const { logs, result } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* awaitState(connection, "connected")
            const first = yield* Effect.forkChild(Stream.runHead(connection.inbound))
            socket.receive("{not json")
            socket.receive(new Uint8Array([1, 2, 3]))
            socket.receive(JSON.stringify({ type: "presence" }))
            socket.receive(good)
            const envelope = yield* Fiber.join(first)
            return { envelope, state: yield* connection.state, dials: dial.sockets.length }
          })
      )
      assert.strictEqual(Option.getOrThrow(result.envelope).headers.messageId, "m1")
      assert.deepStrictEqual([result.state, result.dials], ["connected", 1])
      assert.match(logs.text(), /\[ERROR\] \[InstaClawConnector\] Skipped a frame: Malformed frame/)
      assert.match(logs.text(), /\[ERROR\] \[InstaClawConnector\] Skipped a binary frame of 3 bytes/)
      assert.match(logs.text(), /\[DEBUG\] \[InstaClawConnector\] Ignored an envelope of type "presence"/)
    }))

  it.effect("states go connecting → connected → reconnecting → connected, and disconnected at the end", () =>
    Effect.gen(function*() {
      const { dial, result } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const seen: Array<string> = []
            yield* Effect.forkChild(Stream.runForEach(connection.stateChanges, (s) => Effect.sync(() => seen.push(s))))
            while (seen.at(-1) !== "connected") yield* Effect.yieldNow
            dial.sockets[0]!.serverClose(1001)
            yield* TestClock.adjust("2 seconds")
            return seen
          })
      )
      // `result` is the live array: the consumer saw the scope close too. It may or may not
      // have subscribed early enough to see "connecting".
      assert.deepStrictEqual(result.filter((s) => s !== "connecting"), ["connected", "reconnecting", "connected", "disconnected"])
      assert.strictEqual(dial.sockets[1]!.closedWith, 1000, "closing the scope closes with 1000")
      assert.strictEqual(dial.sockets[1]!.listenerCount, 1, "only the close waiter's listener is left")
    }))

  it.effect("send while down waits sendTimeout, then fails with WebSocket is not connected", () =>
    Effect.gen(function*() {
      const { result } = yield* withConnection(
        (s) => s.refuse(),
        (connection) =>
          Effect.gen(function*() {
            const protocol = Protocol.make()
            const send = yield* Effect.forkChild(connection.sendResponse(protocol.streamReply({ conversationId: "c" }, "hello")))
            yield* TestClock.adjust("4999 millis")
            const pending = send.pollUnsafe() === undefined
            yield* TestClock.adjust("1 millis")
            return { pending, exit: yield* Fiber.await(send) }
          })
      )
      assert.isTrue(result.pending)
      assert.isTrue(Exit.isFailure(result.exit))
      if (Exit.isFailure(result.exit)) assert.strictEqual((result.exit.cause.reasons[0] as any).error.message, "WebSocket is not connected")
    }))

  it.effect("a send made while down waits for the link that opens within sendTimeout and goes out on it", () =>
    Effect.gen(function*() {
      const { dial, result } = yield* withConnection(
        (s, attempt) => (attempt === 0 ? s.refuse() : s.open()),
        (connection, dial) =>
          Effect.gen(function*() {
            yield* dialed(dial)
            const protocol = Protocol.make()
            const send = yield* Effect.forkChild(connection.sendResponse(protocol.streamReply({ conversationId: "c" }, "hello")))
            yield* Effect.yieldNow
            const waitingWhileDown = send.pollUnsafe() === undefined && dial.sockets.length === 1
            // The reconnect delay is under 2 s, well within the 5 s sendTimeout.
            yield* TestClock.adjust("2 seconds")
            return { waitingWhileDown, exit: yield* Fiber.await(send) }
          })
      )
      assert.isTrue(result.waitingWhileDown)
      assert.isTrue(Exit.isSuccess(result.exit))
      assert.strictEqual(dial.sockets.length, 2)
      assert.strictEqual(JSON.parse(JSON.parse(dial.sockets[1]!.messages.at(-1)!).data).type, "response.completed")
    }))

  it.effect("an answer waits for a link longer than sendTimeout and goes out on it; a plain send gives up at sendTimeout", () =>
    Effect.gen(function*() {
      const { dial } = yield* withConnection(
        // The first link opens; the next three attempts are refused (about 7 s of backoff).
        (s, attempt) => (attempt === 0 || attempt >= 4 ? s.open() : s.refuse()),
        (connection, dial) =>
          Effect.gen(function*() {
            yield* awaitState(connection, "connected")
            const frames = yield* Stream.runCollect(Protocol.make().streamReply({ conversationId: "c" }, "patient"))
            dial.sockets[0]!.serverClose(1006)
            yield* awaitState(connection, "reconnecting")
            const answer = yield* connection.beginAnswer
            const send = yield* connection.beginResponse
            const answering = yield* Effect.forkChild(Effect.andThen(answer.write(frames), answer.finish))
            const sending = yield* Effect.forkChild(send.write(frames))
            yield* TestClock.adjust("6 seconds")
            assert.isTrue(Exit.isFailure(yield* Fiber.await(sending)), "a plain send gives up after sendTimeout")
            assert.isUndefined(answering.pollUnsafe(), "the answer still waits")
            yield* TestClock.adjust("30 seconds")
            assert.isTrue(Exit.isSuccess(yield* Fiber.await(answering)), "the answer went out on the link that came")
          })
      )
      const last = dial.sockets.at(-1)!
      assert.deepStrictEqual(last.messages.map((json) => JSON.parse(JSON.parse(json).data).type).at(-1), "response.completed")
    }))

  it.effect("a response cut off by a drop is re-sent from its first frame on the next link", () =>
    Effect.gen(function*() {
      const { dial } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const protocol = Protocol.make()
            const frames = piecesCuttingFirstLink(dial)
            const send = yield* Effect.forkChild(connection.sendResponse(protocol.streamReply({ conversationId: "c" }, frames)))
            yield* TestClock.adjust("2 seconds")
            yield* Fiber.join(send)
          })
      )
      const firstTypes = dial.sockets[0]!.messages.map((json) => JSON.parse(JSON.parse(json).data).sequence_number)
      const secondTypes = dial.sockets[1]!.messages.map((json) => JSON.parse(JSON.parse(json).data).sequence_number)
      assert.deepStrictEqual(firstTypes, [0, 1, 2, 3, 4])
      assert.deepStrictEqual(secondTypes, secondTypes.map((_, i) => i), "the whole response again, in order")
      assert.deepStrictEqual(dial.sockets[1]!.messages.slice(0, 5), dial.sockets[0]!.messages, "same event ids and sequence numbers")
      assert.strictEqual(JSON.parse(JSON.parse(dial.sockets[1]!.messages.at(-1)!).data).type, "response.completed")
    }))

  it.effect("settle calls back once, when a pong proves the answer read: not for the link that dropped it, but for the next, after the re-send", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const { dial } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* awaitState(connection, "connected")
            socket.autoPong = false // the server reads, but its pongs never come back on this link
            const answer = yield* connection.beginAnswer
            yield* answer.write(yield* Stream.runCollect(Protocol.make().streamReply({ conversationId: "c" }, "settled once")))
            answer.settle(() => void calls.push(`settled with ${dial.sockets.length} link(s)`))
            yield* Effect.yieldNow
            assert.deepStrictEqual(calls, [], "no pong, no settling")
            socket.serverClose(1006)
            yield* TestClock.adjust("2 seconds")
            yield* awaitState(connection, "connected")
            for (let i = 0; i < 10 && calls.length === 0; i++) yield* Effect.yieldNow
          })
      )
      assert.deepStrictEqual(calls, ["settled with 2 link(s)"])
      assert.deepStrictEqual(dial.sockets[1]!.messages, dial.sockets[0]!.messages, "re-sent whole before it was confirmed")
    }))

  it.effect("an answer cut off by a drop is re-sent from its note: the first link's frames again, the same bytes, then the rest, none twice", () =>
    Effect.gen(function*() {
      const { dial } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const protocol = Protocol.make()
            const pieces = piecesCuttingFirstLink(dial)
            const answer = yield* connection.beginAnswer
            const writing = yield* Effect.forkChild(protocol.writeReply({ conversationId: "c" }, pieces, (frames, journal) => answer.write(frames, journal)))
            yield* TestClock.adjust("2 seconds")
            yield* Fiber.join(writing)
          })
      )
      const messages = (socket: number) => dial.sockets[socket]!.messages
      assert.isAbove(messages(0).length, 0)
      assert.deepStrictEqual(messages(1).slice(0, messages(0).length), messages(0), "what the first link had, made again from the note")
      const sequence = messages(1).map((json) => JSON.parse(JSON.parse(json).data).sequence_number)
      assert.deepStrictEqual(sequence, sequence.map((_, i) => i), "every frame once, in order")
      assert.strictEqual(JSON.parse(JSON.parse(messages(1).at(-1)!).data).type, "response.completed")
    }))

  it.effect("replies not yet confirmed when a link drops go out again first on the next, in the order they were written", () =>
    Effect.gen(function*() {
      const { dial } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const protocol = Protocol.make()
            const socket = yield* dialed(dial)
            yield* awaitState(connection, "connected")
            socket.autoPong = false // the server reads, but its pongs never come back on this link
            const framesOf = (text: string) => Stream.runCollect(protocol.streamReply({ conversationId: text }, text))
            const a = yield* connection.beginResponse
            const b = yield* connection.beginResponse
            yield* a.write(yield* framesOf("first"))
            yield* b.write(yield* framesOf("second"))
            // Both written: whoever wrote them may go on; their confirmations wait in the background
            // (the second reply's asked for first: the order on the wire is the order of writing).
            const confirmations = yield* Effect.forkChild(Effect.all([b.finish, a.finish], { concurrency: "unbounded" }))
            yield* Effect.yieldNow
            socket.serverClose(1006)
            yield* TestClock.adjust("2 seconds")
            yield* awaitState(connection, "connected")
            const c = yield* connection.beginResponse
            yield* c.write(yield* framesOf("third"))
            yield* Effect.andThen(c.finish, Fiber.join(confirmations))
          })
      )
      const conversations = (sent: ReadonlyArray<string>) => sent.map((json) => JSON.parse(json).headers.conversationId as string)
      const first = conversations(dial.sockets[0]!.messages)
      const second = conversations(dial.sockets[1]!.messages)
      assert.deepStrictEqual(first, [...first.filter((c) => c === "first"), ...first.filter((c) => c === "second")])
      assert.deepStrictEqual(second, [...first, ...second.slice(first.length)], "the unconfirmed replies again, in order, before anything new")
      assert.deepStrictEqual(dial.sockets[1]!.messages.slice(0, first.length), dial.sockets[0]!.messages, "the same frames: same ids and sequence numbers")
      assert.isTrue(second.slice(first.length).every((c) => c === "third"))
      assert.isAbove(second.length, first.length)
    }))

  it.effect("the reconnect schedule alone: auth failures wait the cap, an opened failure resets", () =>
    Effect.gen(function*() {
      const step = yield* Schedule.toStep(resettingOnOpen(defaultReconnect({ base: 1000, cap: 30_000, jitter: 0 })))
      const closed = (opened: boolean) => ({ reason: "Closed" as const, opened })
      const seen: Array<[number, number]> = []
      for (const failure of [closed(false), closed(false), closed(false), closed(true), { reason: "AuthenticationError" as const, opened: false }]) {
        const [output] = yield* step(0, failure)
        seen.push([output.attempt, Duration.toMillis(output.delay)])
      }
      assert.deepStrictEqual(seen, [[0, 1000], [1, 2000], [2, 4000], [0, 1000], [1, 30_000]])
    }))

  it.effect("the status moves with every failure and attempt, not only with state transitions", () =>
    Effect.gen(function*() {
      const { result } = yield* withConnection(
        (s) => s.refuse(401),
        (connection, dial) =>
          Effect.gen(function*() {
            yield* dialed(dial)
            yield* awaitState(connection, "reconnecting")
            const snapshots: Array<{ attempts: number; next: number | undefined; error: string | undefined }> = []
            for (let i = 2; i <= 4; i++) {
              const status = yield* connection.status
              snapshots.push({ attempts: status.reconnectAttempts, next: status.nextRetryAt, error: status.lastError?._tag })
              yield* TestClock.adjust("31 seconds")
              yield* dialed(dial, i)
              yield* Effect.yieldNow
            }
            return { snapshots, dialTimes: [...dial.dialTimes] }
          }).pipe(Random.withSeed("status"))
      )
      assert.deepStrictEqual(result.snapshots.map((s) => [s.attempts, s.error]), [[1, "AuthenticationError"], [2, "AuthenticationError"], [3, "AuthenticationError"]])
      // The next attempt is announced: the capped delay (30–31 s) after each refusal.
      for (const [i, s] of result.snapshots.entries()) {
        assert.isAtLeast(s.next! - result.dialTimes[i]!, 30_000)
        assert.isBelow(s.next! - result.dialTimes[i]!, 31_000)
        assert.strictEqual(s.next, result.dialTimes[i + 1], "the next dial happens when announced")
      }
    }))

  it.effect("while the inbound handler is still busy the link reads nothing, and that silence is not the server's: no drop", () =>
    Effect.gen(function*() {
      const { result } = yield* withConnection(
        (s) => {
          s.autoPong = false // nothing comes back while the connector does not read
          s.open()
        },
        (connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* awaitState(connection, "connected")
            const busy = yield* Deferred.make<void>()
            yield* connection.handleInbound(() => Deferred.await(busy))
            socket.receive(inProgressFrame("m"))
            yield* Effect.yieldNow
            yield* TestClock.adjust("5 minutes")
            const heldAlive = !socket.terminated
            yield* Deferred.succeed(busy, undefined)
            yield* Effect.yieldNow
            // Reading again, and the server truly silent: dropped one timeoutThreshold later.
            yield* TestClock.adjust("89 seconds")
            const aliveBefore = !socket.terminated
            yield* TestClock.adjust("2 seconds")
            return { heldAlive, aliveBefore, droppedAfter: socket.terminated }
          }).pipe(Effect.scoped)
      )
      assert.deepStrictEqual(result, { heldAlive: true, aliveBefore: true, droppedAfter: true })
    }))

  it.effect("a handler that waits holds the frames behind it in order, and over 64 KiB of them pause the socket until they are handled", () =>
    Effect.gen(function*() {
      const envelope = (id: string) => inProgressFrame(id, { padding: "x".repeat(1000) })
      const { result } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* awaitState(connection, "connected")
            const busy = yield* Deferred.make<void>()
            const seen: Array<string> = []
            yield* connection.handleInbound((e) => {
              seen.push(e.headers.messageId)
              return e.headers.messageId === "0" ? Deferred.await(busy) : undefined
            })
            socket.receive(envelope("0"))
            for (let i = 1; i <= 40; i++) socket.receive(envelope(String(i)))
            const pausedAt40 = socket.paused
            for (let i = 41; i <= 100; i++) socket.receive(envelope(String(i)))
            const pausedAt100 = socket.paused
            const seenWhileBusy = seen.length
            yield* Deferred.succeed(busy, undefined)
            yield* Effect.yieldNow
            yield* Effect.yieldNow
            return { pausedAt40, pausedAt100, seenWhileBusy, resumed: !socket.paused, inOrder: seen.join() === Array.from({ length: 101 }, (_, i) => String(i)).join() }
          }).pipe(Effect.scoped)
      )
      assert.deepStrictEqual(result, { pausedAt40: false, pausedAt100: true, seenWhileBusy: 1, resumed: true, inOrder: true })
    }))

  it.effect("handleInbound takes each envelope as it arrives, in order, for its scope; then inbound has them again", () =>
    Effect.gen(function*() {
      const envelope = (id: string) => inProgressFrame(id)
      const { result } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* awaitState(connection, "connected")
            const batches: Array<Array<string>> = []
            const handled = yield* Deferred.make<void>()
            yield* Effect.scoped(Effect.gen(function*() {
              yield* connection.handleInbound((envelope) => {
                batches.push([envelope.headers.messageId])
                return batches.length >= 3 ? Deferred.succeed(handled, undefined) : undefined
              })
              socket.receive(envelope("a"))
              socket.receive("not json")
              socket.receive(envelope("b"))
              socket.receive(envelope("c"))
              yield* Deferred.await(handled)
            }))
            socket.receive(envelope("d"))
            const afterwards = yield* connection.inbound.pipe(Stream.runHead)
            return { batches, afterwards: Option.getOrThrow(afterwards).headers.messageId }
          })
      )
      assert.deepStrictEqual(result.batches.flat(), ["a", "b", "c"], "in order, the malformed frame skipped")
      assert.strictEqual(result.afterwards, "d", "the queue again once the handler's scope closed")
    }))

  it.effect("a flood of malformed frames: the first five in full, then one summary line per interval", () =>
    Effect.gen(function*() {
      const { logs, result } = yield* withConnection(
        (s) => s.open(),
        (connection, dial) =>
          Effect.gen(function*() {
            const socket = yield* dialed(dial)
            yield* awaitState(connection, "connected")
            for (let i = 0; i < 11_000; i++) socket.receive(i % 2 === 0 ? "not json" : new Uint8Array(3))
            socket.receive(inProgressFrame("ok"))
            const delivered = yield* connection.inbound.pipe(Stream.runHead)
            yield* TestClock.adjust("10 seconds")
            return { delivered, status: yield* connection.state }
          })
      )
      assert.strictEqual(Option.getOrThrow(result.delivered).headers.messageId, "ok", "the connection lives on")
      assert.strictEqual(result.status, "connected")
      const errors = logs.lines.filter((l) => l.method === "error")
      assert.strictEqual(errors.length, 10, "five of each kind")
      assert.deepStrictEqual(
        logs.lines.filter((l) => l.line.includes("Left out")).map((l) => l.line.replace(/^\[[^\]]+\] /, "")),
        ["[WARN] [InstaClawConnector] Left out 10990 repeated lines in the last 10s: MalformedFrame ×5495, BinaryFrame ×5495"]
      )
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { ConnectorConfig } from "../src/Config.ts"
import * as InstaLogger from "../src/Logger.ts"
import { captureSink } from "./support/logs.ts"

const NEW_YEAR_2024 = Date.UTC(2024, 0, 1)

describe("Logger", () => {
  it.effect("prints ISO time, level in capitals and the component tag", () =>
    Effect.gen(function*() {
      const { lines, sink } = captureSink()
      yield* TestClock.setTime(NEW_YEAR_2024)
      yield* Effect.logInfo("Connection established").pipe(Effect.provide(InstaLogger.layer({ debug: false, sink })))
      assert.deepStrictEqual(lines, [
        { method: "info", line: "[2024-01-01T00:00:00.000Z] [INFO] [InstaClawConnector] Connection established" }
      ])
    }))

  it.effect("maps every Effect level onto DEBUG, INFO, WARN, ERROR and the matching sink method", () =>
    Effect.gen(function*() {
      const { lines, sink } = captureSink()
      yield* TestClock.setTime(NEW_YEAR_2024)
      yield* Effect.gen(function*() {
        yield* Effect.logDebug("d")
        yield* Effect.logInfo("i")
        yield* Effect.logWarning("w")
        yield* Effect.logError("e")
        yield* Effect.logFatal("f")
      }).pipe(Effect.provide(InstaLogger.layer({ debug: true, sink })))
      assert.deepStrictEqual(
        lines.map(({ line, method }) => `${method} ${line.split(" ").slice(1, 2)}`),
        ["debug [DEBUG]", "info [INFO]", "warn [WARN]", "error [ERROR]", "error [ERROR]"]
      )
    }))

  it.effect("shows debug lines only when debug is on", () =>
    Effect.gen(function*() {
      const quiet = captureSink()
      yield* Effect.logDebug("hidden").pipe(Effect.provide(InstaLogger.layer({ debug: false, sink: quiet.sink })))
      assert.strictEqual(quiet.lines.length, 0)
      const loud = captureSink()
      yield* Effect.logDebug("shown").pipe(Effect.provide(InstaLogger.layer({ debug: true, sink: loud.sink })))
      assert.match(loud.lines[0]!.line, /\[DEBUG\] \[InstaClawConnector\] shown$/)
    }))

  it.effect("appends annotations and the cause with its stack", () =>
    Effect.gen(function*() {
      const { lines, sink } = captureSink()
      const boom = new Error("agent exploded")
      yield* Effect.logError("Reply failed", Cause.fail(boom)).pipe(
        Effect.annotateLogs({ conversationId: "conv_1" }),
        Effect.provide(InstaLogger.layer({ debug: false, sink }))
      )
      const [entry] = lines
      assert.strictEqual(entry!.method, "error")
      assert.match(entry!.line, /\[ERROR\] \[InstaClawConnector\] Reply failed conversationId=conv_1\n/)
      assert.include(entry!.line, "agent exploded")
      assert.include(entry!.line, "Logger.test.ts")
    }))

  it.effect("scrubs the secret from every line even when a message contains it", () =>
    Effect.gen(function*() {
      const { lines, sink } = captureSink()
      const secret = Redacted.make("hunter2-very-secret")
      yield* Effect.gen(function*() {
        yield* Effect.logInfo(`oops: ${Redacted.value(secret)}`)
        yield* Effect.logDebug({ header: Redacted.value(secret) })
        yield* Effect.logError("failed", Cause.fail(new Error(`bad secret ${Redacted.value(secret)}`)))
        yield* Effect.logWarning("as redacted", secret)
      }).pipe(Effect.provide(InstaLogger.layer({ debug: true, sink, secrets: [secret] })))
      assert.strictEqual(lines.length, 4)
      for (const { line } of lines) assert.notInclude(line, "hunter2-very-secret")
      assert.include(lines[0]!.line, "oops: <redacted>")
    }))

  it.effect("layerFromConfig takes debug and the secret from ConnectorConfig and lines from LogSink", () =>
    Effect.gen(function*() {
      const { lines, sink } = captureSink()
      const layer = InstaLogger.layerFromConfig.pipe(
        Layer.provide(ConnectorConfig.layerFromInput({ clientId: "id", clientSecret: "topsecret", debug: true })),
        Layer.provide(Layer.succeed(InstaLogger.LogSink, sink))
      )
      yield* Effect.logDebug("secret is topsecret").pipe(Effect.provide(layer))
      assert.strictEqual(lines.length, 1)
      assert.match(lines[0]!.line, /\[DEBUG\] \[InstaClawConnector\] secret is <redacted>$/)
    }))

  it.effect("falls back to info when a sink has no debug method", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const sink = { info: (line: string) => seen.push(line), warn: () => {}, error: () => {} }
      yield* Effect.logDebug("x").pipe(Effect.provide(InstaLogger.layer({ debug: true, sink })))
      assert.strictEqual(seen.length, 1)
      assert.match(seen[0]!, /\[DEBUG\] \[InstaClawConnector\] x$/)
    }))
})

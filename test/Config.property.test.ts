import { describe, it } from "@effect/vitest"
import { Redacted, Result } from "effect"
import * as fc from "fast-check"
import { assert } from "vitest"
import { ConfigErrorMessages, decodeSettings } from "../src/Config.ts"

const nonBlank = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0)
const blank = fc.constantFrom(undefined, "", " ", "\t\n")
const millis = fc.integer({ min: 1, max: 10_000_000 })

/** A valid config object: any credentials, any intervals with threshold > interval. */
const validInput = fc
  .record({
    clientId: nonBlank,
    clientSecret: nonBlank,
    heartbeatInterval: millis,
    gap: millis,
    debug: fc.oneof(fc.boolean(), fc.constantFrom("true", "false")),
    asStrings: fc.boolean(),
    systemPrompt: fc.option(fc.string(), { nil: undefined })
  })
  .map(({ asStrings, gap, heartbeatInterval, ...rest }) => ({
    ...rest,
    heartbeatInterval: asStrings ? String(heartbeatInterval) : heartbeatInterval,
    timeoutThreshold: asStrings ? String(heartbeatInterval + gap) : heartbeatInterval + gap
  }))

describe("Config properties", () => {
  it("every valid config decodes, keeping its values", () =>
    fc.assert(
      fc.property(validInput, (input) => {
        const settings = Result.getOrThrow(decodeSettings(input))
        assert.strictEqual(settings.clientId, input.clientId.trim())
        assert.strictEqual(Redacted.value(settings.clientSecret), input.clientSecret.trim())
        assert.strictEqual(settings.heartbeatInterval, Number(input.heartbeatInterval))
        assert.isTrue(settings.timeoutThreshold > settings.heartbeatInterval)
        assert.strictEqual(settings.debug, input.debug === true || input.debug === "true")
        assert.strictEqual(JSON.parse(JSON.stringify(settings)).clientSecret, "<redacted:clientSecret>")
        assert.strictEqual(String(settings.clientSecret), "<redacted:clientSecret>")
      })
    ))

  it("a blank clientId fails with the clientId sentence", () =>
    fc.assert(
      fc.property(validInput, blank, (input, clientId) => {
        const result = decodeSettings({ ...input, clientId })
        assert.isTrue(Result.isFailure(result))
        if (Result.isFailure(result)) assert.strictEqual(result.failure.message, ConfigErrorMessages.clientId)
      })
    ))

  it("a blank clientSecret fails with the clientSecret sentence", () =>
    fc.assert(
      fc.property(validInput, blank, (input, clientSecret) => {
        const result = decodeSettings({ ...input, clientSecret })
        if (Result.isSuccess(result)) throw new Error("decoded a config without a secret")
        assert.strictEqual(result.failure.message, ConfigErrorMessages.clientSecret)
      })
    ))

  it("a non-positive or fractional interval fails naming the field and the value", () =>
    fc.assert(
      fc.property(
        validInput,
        fc.oneof(fc.integer({ max: 0 }), fc.double({ min: 0.01, max: 1e6, noInteger: true, noNaN: true })),
        (input, bad) => {
          const result = decodeSettings({ ...input, heartbeatInterval: bad })
          if (Result.isSuccess(result)) throw new Error(`accepted heartbeatInterval ${bad}`)
          assert.include(result.failure.message, "Invalid configuration: heartbeatInterval must be a positive whole number")
          assert.include(result.failure.message, `but received ${JSON.stringify(bad)}`)
        }
      )
    ))

  it("a threshold not above the interval fails", () =>
    fc.assert(
      fc.property(validInput, millis, fc.nat(), (input, interval, below) => {
        const threshold = Math.max(1, interval - below)
        const result = decodeSettings({ ...input, heartbeatInterval: interval, timeoutThreshold: threshold })
        if (Result.isSuccess(result)) throw new Error("accepted threshold <= interval")
        assert.include(result.failure.message, "timeoutThreshold must be greater than heartbeatInterval")
      })
    ))

  it("no error message ever contains the secret", () =>
    fc.assert(
      fc.property(validInput, fc.string({ minLength: 6 }), fc.anything(), (input, secret, junk) => {
        fc.pre(secret.trim().length >= 6)
        const result = decodeSettings({ ...input, clientSecret: secret, heartbeatInterval: junk })
        if (Result.isFailure(result)) assert.notInclude(result.failure.message, secret.trim())
      })
    ))
})

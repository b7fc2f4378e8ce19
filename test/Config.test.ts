import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Redacted, Result } from "effect"
import { readFileSync } from "node:fs"
import { ConfigErrorMessages, ConnectorConfig, decodeSettings, DEFAULT_URL, resolve } from "../src/Config.ts"
import { settings } from "../src/Settings.ts"

const valid = { clientId: "app-1", clientSecret: "s3cret-value" }

const messageOf = (input: Record<string, unknown>): string => {
  const result = decodeSettings(input)
  if (Result.isSuccess(result)) throw new Error("expected a ConfigError")
  return result.failure.message
}

const readConfig = Effect.gen(function*() {
  return yield* ConnectorConfig
})

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

describe("Config", () => {
  it("applies the documented defaults", () => {
    const settings = Result.getOrThrow(decodeSettings(valid))
    assert.strictEqual(settings.enabled, true)
    assert.strictEqual(settings.clientId, "app-1")
    assert.strictEqual(Redacted.value(settings.clientSecret), "s3cret-value")
    assert.strictEqual(settings.debug, false)
    assert.strictEqual(settings.url, DEFAULT_URL)
    assert.strictEqual(settings.heartbeatInterval, 30_000)
    assert.strictEqual(settings.timeoutThreshold, 90_000)
    assert.strictEqual(settings.connectTimeout, 10_000)
    assert.strictEqual(settings.sendTimeout, 5_000)
    assert.strictEqual(settings.maxReconnectAttempts, undefined)
    assert.strictEqual(settings.deltaSize, 50)
    assert.strictEqual(settings.eventProfile, "full")
    assert.strictEqual(settings.systemPrompt, undefined)
  })

  it("trims clientId", () => {
    assert.strictEqual(Result.getOrThrow(decodeSettings({ ...valid, clientId: "  app-2 " })).clientId, "app-2")
  })

  it("refuses a disabled connector with the exact sentence", () => {
    assert.strictEqual(messageOf({ ...valid, enabled: false }), ConfigErrorMessages.disabled)
    assert.strictEqual(messageOf({ ...valid, enabled: "false" }), "InstaClaw connector is not enabled in configuration")
  })

  it("refuses a missing or blank clientId and clientSecret with the exact sentences", () => {
    assert.strictEqual(messageOf({ clientSecret: "x" }), "Missing required configuration: clientId must be provided and non-empty")
    assert.strictEqual(messageOf({ clientId: "   ", clientSecret: "x" }), ConfigErrorMessages.clientId)
    assert.strictEqual(messageOf({ clientId: "a" }), "Missing required configuration: clientSecret must be provided and non-empty")
    assert.strictEqual(messageOf({ clientId: "a", clientSecret: " \t" }), ConfigErrorMessages.clientSecret)
  })

  it("names the field, the value and what is allowed for other bad values", () => {
    assert.strictEqual(
      messageOf({ ...valid, heartbeatInterval: "soon" }),
      "Invalid configuration: heartbeatInterval must be a positive whole number of milliseconds, but received \"soon\" (Expected a finite number)"
    )
    assert.match(messageOf({ ...valid, timeoutThreshold: -5 }), /^Invalid configuration: timeoutThreshold must be a positive whole number of milliseconds, but received -5/)
    assert.match(messageOf({ ...valid, debug: "maybe" }), /^Invalid configuration: debug must be true or false, but received "maybe"/)
    assert.match(messageOf({ ...valid, eventProfile: "tiny" }), /eventProfile must be "full" or "minimal", but received "tiny"/)
  })

  it("lets the timeout threshold follow the heartbeat interval (three heartbeats) unless it is given", () => {
    const settings = Result.getOrThrow(decodeSettings({ ...valid, heartbeatInterval: 100_000 }))
    assert.deepStrictEqual([settings.heartbeatInterval, settings.timeoutThreshold], [100_000, 300_000])
    assert.strictEqual(Result.getOrThrow(decodeSettings({ ...valid, heartbeatInterval: "100000", timeoutThreshold: 150_000 })).timeoutThreshold, 150_000)
    assert.match(messageOf({ ...valid, heartbeatInterval: 100_000, timeoutThreshold: 90_000 }), /timeoutThreshold must be greater than heartbeatInterval/)
  })

  it("requires the timeout threshold to exceed the heartbeat interval", () => {
    assert.strictEqual(
      messageOf({ ...valid, heartbeatInterval: 5000, timeoutThreshold: 5000 }),
      "Invalid configuration: timeoutThreshold must be greater than heartbeatInterval, but received timeoutThreshold 5000 and heartbeatInterval 5000 (milliseconds)"
    )
  })

  it("accepts wss:// anywhere and ws:// only for loopback hosts", () => {
    for (const url of ["wss://chat.example.com/user-ws/", "ws://127.0.0.1:8787/user-ws/", "ws://localhost:1/", "ws://[::1]:9/", "ws://127.8.9.10/"]) {
      assert.strictEqual(Result.getOrThrow(decodeSettings({ ...valid, url })).url, url)
    }
    for (const url of ["ws://chat.example.com/", "ws://10.0.0.1/", "http://127.0.0.1/", "not a url"]) {
      assert.match(messageOf({ ...valid, url }), /^Invalid configuration: url must be a wss:\/\/ URL \(ws:\/\/ is allowed only for localhost/)
    }
  })

  it("never puts the secret in an error message", () => {
    const secret = { toString: () => "leaky" }
    const message = messageOf({ clientId: "a", clientSecret: 12345 })
    assert.strictEqual(message, "Invalid configuration: clientSecret must be a non-empty string, but received a number")
    assert.notInclude(message, "12345")
    assert.notInclude(messageOf({ clientId: "a", clientSecret: secret }), "leaky")
  })

  it("never prints the secret in String or JSON of the settings", () => {
    const settings = Result.getOrThrow(decodeSettings(valid))
    assert.notInclude(JSON.stringify(settings), "s3cret-value")
    assert.notInclude(String(settings.clientSecret), "s3cret-value")
    assert.notInclude(`${settings.clientSecret}`, "s3cret-value")
  })

  it.effect("lets INSTACLAW_* environment variables win over the config object", () =>
    Effect.gen(function*() {
      const settings = yield* resolve({ ...valid, url: "wss://object.example/", debug: false }).pipe(
        withEnv({
          INSTACLAW_CLIENT_ID: "env-id",
          INSTACLAW_CLIENT_SECRET: "env-secret",
          INSTACLAW_WS_URL: "ws://127.0.0.1:9999/user-ws/",
          INSTACLAW_DEBUG: "true",
          INSTACLAW_HEARTBEAT_INTERVAL: "1000",
          INSTACLAW_TIMEOUT_THRESHOLD: "3000"
        })
      )
      assert.strictEqual(settings.clientId, "env-id")
      assert.strictEqual(Redacted.value(settings.clientSecret), "env-secret")
      assert.strictEqual(settings.url, "ws://127.0.0.1:9999/user-ws/")
      assert.strictEqual(settings.debug, true)
      assert.strictEqual(settings.heartbeatInterval, 1000)
      assert.strictEqual(settings.timeoutThreshold, 3000)
    }))

  it.effect("treats an empty environment variable as unset", () =>
    Effect.gen(function*() {
      const settings = yield* resolve(valid).pipe(withEnv({ INSTACLAW_CLIENT_ID: "" }))
      assert.strictEqual(settings.clientId, "app-1")
    }))

  it.effect("layerFromEnv fails startup with the ConfigError sentence", () =>
    Effect.gen(function*() {
      const exit = yield* readConfig.pipe(
        Effect.provide(ConnectorConfig.layerFromEnv),
        withEnv({ INSTACLAW_CLIENT_ID: "id" }),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(
        readConfig.pipe(Effect.provide(ConnectorConfig.layerFromEnv), withEnv({ INSTACLAW_CLIENT_ID: "id" }))
      )
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(error.message, ConfigErrorMessages.clientSecret)
    }))

  it.effect("layer builds the service from a config object", () =>
    Effect.gen(function*() {
      const config = yield* readConfig.pipe(
        Effect.provide(ConnectorConfig.layer({ ...valid, systemPrompt: "Be brief." })),
        withEnv({})
      )
      assert.strictEqual(config.systemPrompt, "Be brief.")
    }))
})

describe("the settings table", () => {
  it("every setting has its line in the README's configuration table, with its environment variable", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    for (const [name, row] of Object.entries(settings)) {
      const line = readme.split("\n").find((text) => text.startsWith(`| \`${name}\` |`))
      assert.isDefined(line, `README has no configuration line for ${name}`)
      if ("env" in row && row.env !== undefined) assert.include(line!, row.env)
    }
  })
})

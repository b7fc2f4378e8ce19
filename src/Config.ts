/**
 * The connector's configuration: one validated `ConnectorConfig` service.
 *
 * Values come from the OpenClaw channel config object (`channels.instaclaw`) or an embedding
 * application, overridden by `INSTACLAW_*` environment variables (read through Effect's
 * `ConfigProvider`, so tests can supply their own). Every value is checked with the setting's
 * `Schema` from `src/Settings.ts` (the one place settings are declared); a bad one stops startup
 * with a `ConfigError` whose message is a sentence that says what to fix.
 *
 * Gotchas: `clientSecret` is a `Redacted` from the moment it is read — it never appears in an
 * error message, a log line, or `String`/`JSON.stringify` of the config.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Option, Redacted, Result, Schema, SchemaIssue } from "effect"
import { type Setting, type SettingName, settings, type SettingValues, environmentVariables } from "./Settings.ts"

export { DEFAULT_URL, EventProfile } from "./Settings.ts"

/** The validated configuration every other layer reads. Durations are in milliseconds. */
export type ConnectorSettings =
  & Omit<SettingValues, "clientSecret" | "systemPrompt" | "maxReconnectAttempts" | "mediaMaxMb" | "historyLimit">
  & {
    readonly clientSecret: Redacted.Redacted<string>
    readonly systemPrompt: string | undefined
    /** Consecutive failed attempts after which reconnecting stops; `undefined` = forever. */
    readonly maxReconnectAttempts: number | undefined
    /** The account's media size limit in megabytes; `undefined` = the host's. */
    readonly mediaMaxMb: number | undefined
    /** Unanswered group messages kept as context; `undefined` = the host's. */
    readonly historyLimit: number | undefined
  }

type InputOf<K extends SettingName> = (typeof settings)[K] extends Setting<any, infer I> ? I : never

/** The input accepted from a config object or embedding application, before validation. */
export type ConnectorInput =
  & { readonly [K in Exclude<SettingName, "clientSecret">]?: InputOf<K> | undefined }
  & { readonly clientSecret?: string | Redacted.Redacted<string> | undefined }

/** A configuration value that cannot be used; `message` says what to fix. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  message: Schema.String
}) {}

/** The exact sentences of the three startup errors every deployment guide refers to. */
export const ConfigErrorMessages = {
  disabled: "InstaClaw connector is not enabled in configuration",
  clientId: "Missing required configuration: clientId must be provided and non-empty",
  clientSecret: "Missing required configuration: clientSecret must be provided and non-empty"
} as const

/** Environment variables that override the config object, by setting. Environment wins. */
export const EnvironmentVariables: Readonly<Partial<Record<SettingName, string>>> = Object.fromEntries(environmentVariables)

/** Renders a received value for an error sentence, kept short. */
const describe = (value: unknown): string => {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value) ?? value)
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown
}

const decodeField = <K extends SettingName>(name: K, raw: unknown): Result.Result<SettingValues[K], ConfigError> => {
  const { allowed, schema } = settings[name] as Setting<unknown, unknown>
  return Result.mapError(
    Schema.decodeUnknownResult(schema)(raw) as Result.Result<SettingValues[K], Schema.SchemaError>,
    (error) => {
      const reason = SchemaIssue.makeFormatterDefault()(error.issue).split("\n")[0]
      return new ConfigError({
        message: `Invalid configuration: ${name} must be ${allowed}, but received ${describe(raw)} (${reason})`
      })
    }
  )
}

const isBlank = (value: unknown): boolean =>
  value === undefined || value === null || (typeof value === "string" && value.trim() === "")

const requiredText = (
  name: "clientId" | "clientSecret",
  raw: unknown
): Result.Result<string, ConfigError> => {
  const value = Redacted.isRedacted(raw) ? Redacted.value(raw) : raw
  if (isBlank(value)) return Result.fail(new ConfigError({ message: ConfigErrorMessages[name] }))
  if (typeof value !== "string") {
    // Never echo what was given for the secret.
    const received = name === "clientSecret" ? `a ${typeof value}` : describe(value)
    return Result.fail(
      new ConfigError({ message: `Invalid configuration: ${name} must be a non-empty string, but received ${received}` })
    )
  }
  return Result.succeed(value.trim())
}

/**
 * Validates raw input into settings. Pure: the same input gives the same result.
 *
 * Gotchas: an unknown key is ignored (OpenClaw adds its own, e.g. `accounts`, `streaming`).
 */
export const decodeSettings = (input: ConnectorInput | Record<string, unknown>): Result.Result<ConnectorSettings, ConfigError> =>
  Result.gen(function*() {
    const raw = input as Record<string, unknown>
    const valueOf = <K extends SettingName>(name: K): Result.Result<SettingValues[K] | undefined, ConfigError> =>
      isBlank(raw[name]) ? Result.succeed(settings[name].default as SettingValues[K] | undefined) : decodeField(name, raw[name])

    if ((yield* valueOf("enabled")) === false) return yield* Result.fail(new ConfigError({ message: ConfigErrorMessages.disabled }))
    const clientId = yield* requiredText("clientId", raw.clientId)
    const clientSecret = yield* requiredText("clientSecret", raw.clientSecret)
    const values: Record<string, unknown> = {}
    for (const name of Object.keys(settings) as Array<SettingName>) {
      if (name !== "clientId" && name !== "clientSecret") values[name] = yield* valueOf(name)
    }
    const heartbeatInterval = values.heartbeatInterval as number
    // Without its own value the threshold follows the interval: three missed heartbeats.
    const timeoutThreshold = (values.timeoutThreshold as number | undefined) ?? 3 * heartbeatInterval
    if (timeoutThreshold <= heartbeatInterval) {
      return yield* Result.fail(
        new ConfigError({
          message:
            `Invalid configuration: timeoutThreshold must be greater than heartbeatInterval, but received ` +
            `timeoutThreshold ${timeoutThreshold} and heartbeatInterval ${heartbeatInterval} (milliseconds)`
        })
      )
    }
    return {
      ...values,
      clientId,
      clientSecret: Redacted.make(clientSecret, { label: "clientSecret" }),
      timeoutThreshold
    } as ConnectorSettings
  })

/** True unless `enabled` is set to a false value ("false", "0", "no", false); a bad value counts as enabled (and fails decoding). */
export const isEnabled = (input: Record<string, unknown>): boolean => {
  if (isBlank(input.enabled)) return true
  const decoded = decodeField("enabled", input.enabled)
  return Result.isFailure(decoded) || decoded.success !== false
}

/** The `INSTACLAW_*` overrides found in `env` (for hosts that hand over `process.env`). Blank counts as unset. */
export const overridesFrom = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const overrides: Record<string, string> = {}
  for (const [key, variable] of environmentVariables) {
    const value = env[variable]
    if (value !== undefined && value.trim() !== "") overrides[key] = value
  }
  return overrides
}

/** Reads the `INSTACLAW_*` overrides from the current `ConfigProvider` (the environment by default). */
export const environmentOverrides: Effect.Effect<ConnectorInput> = Effect.gen(function*() {
  const env: Record<string, string | undefined> = {}
  for (const [, variable] of environmentVariables) {
    const read: Effect.Effect<Option.Option<string>> = Effect.orElseSucceed(Config.option(Config.String(variable)), () => Option.none())
    env[variable] = Option.getOrUndefined(yield* read)
  }
  return overridesFrom(env)
})

/**
 * Resolves settings from a config object with environment overrides applied.
 * Fails with `ConfigError` when anything is missing or invalid.
 */
export const resolve = Effect.fn("ConnectorConfig.resolve")(function*(input: ConnectorInput | Record<string, unknown> = {}) {
  const overrides = yield* environmentOverrides
  return yield* Effect.fromResult(decodeSettings({ ...input, ...overrides }))
})

/** The validated settings as a service. */
export class ConnectorConfig extends Context.Service<ConnectorConfig, ConnectorSettings>()(
  "insta-claw/ConnectorConfig"
) {
  /** From an OpenClaw channel config object (or your own), with `INSTACLAW_*` overrides. */
  static readonly layer = (input: ConnectorInput | Record<string, unknown>): Layer.Layer<ConnectorConfig, ConfigError> =>
    Layer.effect(ConnectorConfig, resolve(input))

  /** From the environment alone (`INSTACLAW_CLIENT_ID`, `INSTACLAW_CLIENT_SECRET`, …). */
  static readonly layerFromEnv: Layer.Layer<ConnectorConfig, ConfigError> = Layer.effect(ConnectorConfig, resolve({}))

  /** Settings given directly, without reading the environment: for tests and embedding. */
  static readonly layerFromInput = (input: ConnectorInput): Layer.Layer<ConnectorConfig, ConfigError> =>
    Layer.effect(ConnectorConfig, Effect.fromResult(decodeSettings(input)))
}

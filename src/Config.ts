/**
 * The connector's configuration: one validated `ConnectorConfig` service.
 *
 * Values come from the OpenClaw channel config object (`channels.instaclaw`) or an embedding
 * application, overridden by `INSTACLAW_*` environment variables (read through Effect's
 * `ConfigProvider`, so tests can supply their own). Every value is checked with `Schema`; a bad
 * one stops startup with a `ConfigError` whose message is a sentence that says what to fix.
 *
 * Gotchas: `clientSecret` is a `Redacted` from the moment it is read — it never appears in an
 * error message, a log line, or `String`/`JSON.stringify` of the config.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Option, Redacted, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"

/** Which Open Responses events a reply is sent with (docs/PROTOCOL.md §4). */
export const EventProfile = Schema.Literals(["full", "minimal"])
export type EventProfile = typeof EventProfile.Type

/** The validated configuration every other layer reads. Durations are in milliseconds. */
export interface ConnectorSettings {
  readonly enabled: boolean
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly systemPrompt: string | undefined
  readonly debug: boolean
  /** WebSocket URL of the InstaClaw service (`wss://`, or `ws://` for loopback only). */
  readonly url: string
  readonly heartbeatInterval: number
  readonly timeoutThreshold: number
  /** An upgrade not completed within this is abandoned and counts as a failed attempt. */
  readonly connectTimeout: number
  /** How long `send` waits for a connection before failing with `WebSocket is not connected`. */
  readonly sendTimeout: number
  /** Consecutive failed attempts after which reconnecting stops; `undefined` = forever. */
  readonly maxReconnectAttempts: number | undefined
  /** Largest inbound frame accepted; a larger one closes the socket with 1009. */
  readonly maxFrameBytes: number
  /** Largest text of one outbound `output_text.delta`, in UTF-16 code units. */
  readonly deltaSize: number
  readonly eventProfile: EventProfile
  readonly maxInFlightResponses: number
  readonly maxResponseTextBytes: number
  /** An inbound response with no event for this long is discarded. */
  readonly responseIdleTimeout: number
  /** Conversations answered at the same time; replies within one conversation stay in order. */
  readonly maxConcurrentConversations: number
  /** On shutdown, in-flight replies get this long to finish before the socket closes. */
  readonly shutdownGracePeriod: number
  /** The `model` field of outbound responses: the agent's name. */
  readonly model: string
}

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

export const DEFAULT_URL = "wss://claw-dev.int-os.com/user-ws/"

/** Environment variables that override the config object. Environment wins. */
export const EnvironmentVariables = {
  url: "INSTACLAW_WS_URL",
  clientId: "INSTACLAW_CLIENT_ID",
  clientSecret: "INSTACLAW_CLIENT_SECRET",
  debug: "INSTACLAW_DEBUG",
  heartbeatInterval: "INSTACLAW_HEARTBEAT_INTERVAL",
  timeoutThreshold: "INSTACLAW_TIMEOUT_THRESHOLD"
} as const

/** The input accepted from a config object or embedding application, before validation. */
export interface ConnectorInput {
  readonly enabled?: boolean | string | undefined
  readonly clientId?: string | undefined
  readonly clientSecret?: string | Redacted.Redacted<string> | undefined
  readonly systemPrompt?: string | undefined
  readonly debug?: boolean | string | undefined
  readonly url?: string | undefined
  readonly heartbeatInterval?: number | string | undefined
  readonly timeoutThreshold?: number | string | undefined
  readonly connectTimeout?: number | string | undefined
  readonly sendTimeout?: number | string | undefined
  readonly maxReconnectAttempts?: number | string | undefined
  readonly maxFrameBytes?: number | string | undefined
  readonly deltaSize?: number | string | undefined
  readonly eventProfile?: EventProfile | undefined
  readonly maxInFlightResponses?: number | string | undefined
  readonly maxResponseTextBytes?: number | string | undefined
  readonly responseIdleTimeout?: number | string | undefined
  readonly maxConcurrentConversations?: number | string | undefined
  readonly shutdownGracePeriod?: number | string | undefined
  readonly model?: string | undefined
}

// ---------------------------------------------------------------------------------------------
// Field schemas. Environment values arrive as strings, so numbers and booleans accept both.
// ---------------------------------------------------------------------------------------------

const PositiveInt = Schema.Union([Schema.Finite, Schema.FiniteFromString]).check(
  Schema.isInt(),
  Schema.isGreaterThan(0)
)
const FlagFromString = Schema.Literals(["true", "false", "1", "0", "yes", "no"]).pipe(
  Schema.decodeTo(
    Schema.Boolean,
    SchemaTransformation.transform({
      decode: (text) => text === "true" || text === "1" || text === "yes",
      encode: (flag) => (flag ? "true" : "false")
    })
  )
)
const Flag = Schema.Union([Schema.Boolean, FlagFromString])
const Text = Schema.String

const isLoopbackHost = (hostname: string): boolean =>
  hostname === "localhost" || hostname === "[::1]" || hostname === "::1" || /^127(\.\d{1,3}){3}$/.test(hostname)

/** `wss://` anywhere; `ws://` only to a loopback host (docs/PROTOCOL.md §1). */
const WebSocketUrl = Schema.String.check(
  Schema.makeFilter((raw) => {
    if (!URL.canParse(raw)) return false
    const url = new URL(raw)
    return url.protocol === "wss:" || (url.protocol === "ws:" && isLoopbackHost(url.hostname))
  })
)

interface Field<A> {
  readonly schema: Schema.Codec<A, unknown>
  readonly allowed: string
}
const field = <A>(schema: Schema.Codec<A, any>, allowed: string): Field<A> => ({ schema, allowed })

const fields = {
  enabled: field(Flag, "true or false"),
  debug: field(Flag, "true or false"),
  systemPrompt: field(Text, "a string"),
  model: field(Schema.NonEmptyString, "a non-empty string"),
  url: field(WebSocketUrl, "a wss:// URL (ws:// is allowed only for localhost, 127.0.0.0/8 or ::1)"),
  heartbeatInterval: field(PositiveInt, "a positive whole number of milliseconds"),
  timeoutThreshold: field(PositiveInt, "a positive whole number of milliseconds"),
  connectTimeout: field(PositiveInt, "a positive whole number of milliseconds"),
  sendTimeout: field(PositiveInt, "a positive whole number of milliseconds"),
  maxReconnectAttempts: field(PositiveInt, "a positive whole number (leave it out to retry forever)"),
  maxFrameBytes: field(PositiveInt, "a positive whole number of bytes"),
  deltaSize: field(PositiveInt.check(Schema.isGreaterThanOrEqualTo(2)), "a whole number of characters, at least 2"),
  eventProfile: field(EventProfile, "\"full\" or \"minimal\""),
  maxInFlightResponses: field(PositiveInt, "a positive whole number"),
  maxResponseTextBytes: field(PositiveInt, "a positive whole number of bytes"),
  responseIdleTimeout: field(PositiveInt, "a positive whole number of milliseconds"),
  maxConcurrentConversations: field(PositiveInt, "a positive whole number"),
  shutdownGracePeriod: field(PositiveInt, "a positive whole number of milliseconds")
} as const

type FieldName = keyof typeof fields

/** Renders a received value for an error sentence, kept short. */
const describe = (value: unknown): string => {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value) ?? value)
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown
}

const decodeField = <K extends FieldName>(
  name: K,
  raw: unknown
): Result.Result<(typeof fields)[K] extends Field<infer A> ? A : never, ConfigError> => {
  const { allowed, schema } = fields[name] as Field<unknown>
  return Result.mapError(
    Schema.decodeUnknownResult(schema)(raw) as Result.Result<any, Schema.SchemaError>,
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
    const optional = <K extends FieldName>(name: K) =>
      isBlank(raw[name]) ? Result.succeed(undefined) : decodeField(name, raw[name])

    const enabled = (yield* optional("enabled")) ?? true
    if (!enabled) return yield* Result.fail(new ConfigError({ message: ConfigErrorMessages.disabled }))
    const clientId = yield* requiredText("clientId", raw.clientId)
    const clientSecret = yield* requiredText("clientSecret", raw.clientSecret)
    const heartbeatInterval = (yield* optional("heartbeatInterval")) ?? 30_000
    // Without its own value the threshold follows the interval: three missed heartbeats.
    const timeoutThreshold = (yield* optional("timeoutThreshold")) ?? 3 * heartbeatInterval
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
      enabled,
      clientId,
      clientSecret: Redacted.make(clientSecret, { label: "clientSecret" }),
      systemPrompt: yield* optional("systemPrompt"),
      debug: (yield* optional("debug")) ?? false,
      url: (yield* optional("url")) ?? DEFAULT_URL,
      heartbeatInterval,
      timeoutThreshold,
      connectTimeout: (yield* optional("connectTimeout")) ?? 10_000,
      sendTimeout: (yield* optional("sendTimeout")) ?? 10_000,
      maxReconnectAttempts: yield* optional("maxReconnectAttempts"),
      maxFrameBytes: (yield* optional("maxFrameBytes")) ?? 1024 * 1024,
      deltaSize: (yield* optional("deltaSize")) ?? 50,
      eventProfile: (yield* optional("eventProfile")) ?? "full",
      maxInFlightResponses: (yield* optional("maxInFlightResponses")) ?? 1000,
      maxResponseTextBytes: (yield* optional("maxResponseTextBytes")) ?? 1024 * 1024,
      responseIdleTimeout: (yield* optional("responseIdleTimeout")) ?? 5 * 60_000,
      maxConcurrentConversations: (yield* optional("maxConcurrentConversations")) ?? 16,
      shutdownGracePeriod: (yield* optional("shutdownGracePeriod")) ?? 5_000,
      model: (yield* optional("model")) ?? "openclaw"
    }
  })

/** Reads the `INSTACLAW_*` overrides from the current `ConfigProvider` (the environment by default). */
export const environmentOverrides: Effect.Effect<ConnectorInput> = Effect.gen(function*() {
  const read = (name: string): Effect.Effect<string | undefined> =>
    Config.option(Config.String(name)).pipe(
      Effect.map(Option.getOrUndefined),
      Effect.orElseSucceed(() => undefined)
    )
  const overrides: Record<string, string> = {}
  for (const [key, variable] of Object.entries(EnvironmentVariables)) {
    const value = yield* read(variable)
    if (value !== undefined && value.trim() !== "") overrides[key] = value
  }
  return overrides
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

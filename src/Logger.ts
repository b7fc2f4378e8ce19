/**
 * The connector's log output: one line per entry,
 * `[2024-01-01T00:00:00.000Z] [INFO] [InstaClawConnector] Connection established`.
 *
 * Every module logs with Effect's own `Effect.log*`; this layer decides where lines go (the
 * `LogSink`: OpenClaw's `ctx.log` inside the gateway, stderr elsewhere) and which levels show
 * (`debug` lines only when the config says `debug: true`).
 *
 * Gotchas: the layer also scrubs the client secret from every line it prints — a second guard
 * behind `Redacted`, so a secret that slips into a message by accident is still never printed.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Layer, Logger, type LogLevel, Predicate, Redacted, References } from "effect"
import { ConnectorConfig } from "./Config.ts"

/** The component tag on every line. */
export const COMPONENT = "InstaClawConnector"

/** The levels a line can carry. */
export type LineLevel = "DEBUG" | "INFO" | "WARN" | "ERROR"

/** Receives finished lines. OpenClaw's `ctx.log` has this shape. */
export interface LogSinkShape {
  readonly info: (line: string) => void
  readonly warn: (line: string) => void
  readonly error: (line: string) => void
  readonly debug?: ((line: string) => void) | undefined
  /** The sink stamps each line itself (OpenClaw's `ctx.log` does): lines then carry no time of ours. */
  readonly stampsTime?: boolean | undefined
}

/** Writes every line to stderr. The default sink. */
export const stderrSink: LogSinkShape = {
  info: (line) => process.stderr.write(`${line}\n`),
  warn: (line) => process.stderr.write(`${line}\n`),
  error: (line) => process.stderr.write(`${line}\n`),
  debug: (line) => process.stderr.write(`${line}\n`)
}

/** Where lines go. Override with `Layer.succeed(LogSink, ctx.log)` inside OpenClaw. */
export const LogSink = Context.Reference<LogSinkShape>("insta-claw/LogSink", { defaultValue: () => stderrSink })

/**
 * A minimum level that wins over the config's `debug` flag: the CLI's `--log-level` sets it.
 * Leave it unset and `debug: true` means `Debug`, otherwise `Info`.
 */
export const LogLevelOverride = Context.Reference<LogLevel.LogLevel | undefined>("insta-claw/LogLevelOverride", {
  defaultValue: () => undefined
})

/** Maps Effect's levels onto the four the line format has. */
export const lineLevel = (level: LogLevel.LogLevel): LineLevel => {
  switch (level) {
    case "Trace":
    case "Debug":
    case "All":
      return "DEBUG"
    case "Info":
    case "None":
      return "INFO"
    case "Warn":
      return "WARN"
    case "Error":
    case "Fatal":
      return "ERROR"
  }
}

const renderPart = (part: unknown): string => {
  if (Predicate.isString(part)) return part
  if (part instanceof Error) return part.message
  if (Redacted.isRedacted(part)) return String(part)
  try {
    return JSON.stringify(part) ?? String(part)
  } catch {
    return String(part)
  }
}

/** Formats one line. Exported for tests and for anyone who wants the same shape elsewhere. */
export const formatLine = (options: {
  /** Leave it out when whoever receives the line stamps it. */
  readonly date?: Date | undefined
  readonly level: LineLevel
  readonly message: unknown
  readonly annotations?: Readonly<Record<string, unknown>> | undefined
  readonly cause?: Cause.Cause<unknown> | undefined
}): string => {
  const parts = Array.isArray(options.message) ? options.message : [options.message]
  const time = options.date === undefined ? "" : `[${options.date.toISOString()}] `
  let line = `${time}[${options.level}] [${COMPONENT}] ${parts.map(renderPart).join(" ")}`
  for (const [key, value] of Object.entries(options.annotations ?? {})) line += ` ${key}=${renderPart(value)}`
  if (options.cause !== undefined && options.cause.reasons.length > 0) line += `\n${Cause.pretty(options.cause)}`
  return line
}

/** Replaces every occurrence of each secret with `<redacted>`. */
export const scrub = (line: string, secrets: ReadonlyArray<string>): string => {
  let out = line
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join("<redacted>")
  return out
}

/** An Effect `Logger` that formats lines and hands them to a sink, with secrets scrubbed. */
export const make = (options: {
  readonly sink: LogSinkShape
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string>> | undefined
}): Logger.Logger<unknown, void> => {
  const secrets = (options.secrets ?? []).map((secret) => Redacted.value(secret))
  return Logger.make(({ cause, date, fiber, logLevel, message }) => {
    const level = lineLevel(logLevel)
    const line = scrub(
      formatLine({
        date: options.sink.stampsTime === true ? undefined : date,
        level,
        message,
        annotations: fiber.getRef(References.CurrentLogAnnotations),
        cause
      }),
      secrets
    )
    const { sink } = options
    switch (level) {
      case "DEBUG":
        return (sink.debug ?? sink.info)(line)
      case "INFO":
        return sink.info(line)
      case "WARN":
        return sink.warn(line)
      case "ERROR":
        return sink.error(line)
    }
  })
}

/**
 * Installs the connector's logger in place of Effect's default, and the minimum level:
 * `Debug` when `debug` is true, otherwise `Info`.
 */
export const layer = (options: {
  readonly debug: boolean
  readonly minimumLevel?: LogLevel.LogLevel | undefined
  readonly sink?: LogSinkShape | undefined
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string>> | undefined
}): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([make({ sink: options.sink ?? stderrSink, secrets: options.secrets })]),
    Layer.succeed(References.MinimumLogLevel, options.minimumLevel ?? (options.debug ? "Debug" : "Info"))
  )

/** The logger configured from `ConnectorConfig` (its `debug` flag and secret), the `LogSink` and any `LogLevelOverride`. */
export const layerFromConfig: Layer.Layer<never, never, ConnectorConfig> = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* ConnectorConfig
    const sink = yield* LogSink
    const minimumLevel = yield* LogLevelOverride
    return layer({ debug: config.debug, minimumLevel, sink, secrets: [config.clientSecret] })
  })
)

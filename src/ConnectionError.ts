/**
 * Why a link ended or could not be used: one `ConnectionError` whose `reason` is a class per
 * failure kind, each with its own fields and `message` — the shape of Effect's own
 * `SocketError`. Match on `error.reason._tag`, never on the message text.
 *
 * ```ts
 * Effect.catchTag(send, "ConnectionError", (error) =>
 *   error.reason._tag === "NotConnected" ? retryLater : Effect.fail(error))
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The server refused the credentials: HTTP 401/403 on the upgrade, or close 1008/4001/4401/4403. */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()("AuthenticationError", {
  status: Schema.optionalKey(Schema.Number),
  closeCode: Schema.optionalKey(Schema.Number)
}) {
  override get message() {
    const how = this.status !== undefined ? `HTTP ${this.status} on upgrade` : `close code ${this.closeCode}`
    return `InstaClaw rejected the credentials (${how}): check clientId/clientSecret`
  }
}

/** The upgrade did not complete within `connectTimeout`. */
export class OpenTimeout extends Schema.TaggedError<OpenTimeout>()("OpenTimeout", {
  timeoutMillis: Schema.Number
}) {
  override get message() {
    return "The upgrade did not complete within connectTimeout"
  }
}

/**
 * The socket could not be opened: the OS refused or could not reach the host (`code`, e.g.
 * `ECONNREFUSED`, `ENOTFOUND`, a TLS error), or the upgrade was answered with another HTTP status.
 * `cause` is the original error, for its stack in debug logs.
 */
export class OpenFailed extends Schema.TaggedError<OpenFailed>()("OpenFailed", {
  status: Schema.optionalKey(Schema.Number),
  statusText: Schema.optionalKey(Schema.String),
  /** From a 429/503 upgrade's `Retry-After`; the reconnect waits at least this (up to its cap). */
  retryAfterMillis: Schema.optionalKey(Schema.Number),
  code: Schema.optionalKey(Schema.String),
  detail: Schema.optionalKey(Schema.String),
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message() {
    if (this.status !== undefined) {
      const retry = this.retryAfterMillis === undefined ? "" : ` (Retry-After ${Math.round(this.retryAfterMillis / 1000)} s)`
      return `Upgrade refused with HTTP ${this.status}${this.statusText ? ` ${this.statusText}` : ""}${retry}`
    }
    if (this.code !== undefined || this.detail !== undefined) {
      return `Could not open the WebSocket: ${[this.code, this.detail].filter((part) => part !== undefined).join(": ")}`
    }
    return "Could not open the WebSocket"
  }
}

/** An open link closed: the server closed it (`code`, `closeReason`), or the socket died (`detail`, e.g. ECONNRESET). */
export class Closed extends Schema.TaggedError<Closed>()("Closed", {
  code: Schema.optionalKey(Schema.Number),
  closeReason: Schema.optionalKey(Schema.String),
  detail: Schema.optionalKey(Schema.String),
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message() {
    const how = this.code === undefined ? "The socket closed" : `The socket closed with code ${this.code}`
    const why = [this.closeReason, this.detail].filter((part) => part !== undefined && part !== "")
    return why.length === 0 ? how : `${how}: ${why.join("; ")}`
  }
}

/** Nothing arrived from the server for `timeoutThreshold`; the socket was destroyed. */
export class HeartbeatTimeout extends Schema.TaggedError<HeartbeatTimeout>()("HeartbeatTimeout", {
  silentMillis: Schema.Number
}) {
  override get message() {
    return `No frame from the server for ${this.silentMillis} ms; dropping the link`
  }
}

/** The server sent a frame over `maxFrameBytes`; the link was closed with 1009. */
export class FrameTooLarge extends Schema.TaggedError<FrameTooLarge>()("FrameTooLarge", {}) {
  override get message() {
    return "A frame exceeded maxFrameBytes; closed with 1009"
  }
}

/** No link within `sendTimeout`, or the link broke under a write. */
export class NotConnected extends Schema.TaggedError<NotConnected>()("NotConnected", {}) {
  override get message() {
    return "WebSocket is not connected"
  }
}

/** Reconnecting stopped after `maxReconnectAttempts` consecutive failures. */
export class ReconnectAttemptsExhausted extends Schema.TaggedError<ReconnectAttemptsExhausted>()("ReconnectAttemptsExhausted", {
  attempts: Schema.Number,
  lastError: Schema.String
}) {
  override get message() {
    return `Gave up after ${this.attempts} reconnect attempts; last error: ${this.lastError}`
  }
}

export const ConnectionErrorReason = Schema.Union([
  AuthenticationError,
  OpenTimeout,
  OpenFailed,
  Closed,
  HeartbeatTimeout,
  FrameTooLarge,
  NotConnected,
  ReconnectAttemptsExhausted
])
export type ConnectionErrorReason = typeof ConnectionErrorReason.Type

/** A refused upgrade: 401/403 refuse the credentials; any other status is a failed open. */
export const upgradeRefused = (
  status: number,
  details: { readonly statusText?: string | undefined; readonly retryAfterMillis?: number | undefined } = {}
): AuthenticationError | OpenFailed =>
  status === 401 || status === 403
    ? new AuthenticationError({ status })
    : new OpenFailed({
      status,
      ...(details.statusText ? { statusText: details.statusText } : {}),
      ...(details.retryAfterMillis === undefined ? {} : { retryAfterMillis: details.retryAfterMillis })
    })

/** What a `Connection` fails with. `opened`: the link had opened before it failed (the backoff starts over). */
export class ConnectionError extends Schema.TaggedError<ConnectionError>()("ConnectionError", {
  reason: ConnectionErrorReason,
  opened: Schema.Boolean
}) {
  override get message() {
    return this.reason.message
  }
}

/** `WebSocket is not connected`, as a `ConnectionError`. */
export const notConnected = (opened = false): ConnectionError => new ConnectionError({ reason: new NotConnected(), opened })

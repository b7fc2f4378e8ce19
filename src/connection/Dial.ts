/**
 * What a dial sends — the upgrade's authentication headers and the frame limit — and `probe`, one
 * real upgrade that checks the settings (`Connection.probe`, the plugin's `channels status --probe`).
 */
import { Effect, Redacted } from "effect"
import { ConnectorConfig, type ConnectorSettings } from "../Config.ts"
import type { ConnectionError } from "../ConnectionError.ts"
import { type DialOptions, WebSocketDialer } from "../WebSocketDialer.ts"
import { openLink } from "./Link.ts"

/** The upgrade's authentication headers and the frame limit. */
export const dialOptions = (config: ConnectorSettings): DialOptions => ({
  headers: { "x-app-key": config.clientId, "x-app-secret": Redacted.value(config.clientSecret) },
  maxPayload: config.maxFrameBytes
})

/**
 * Checks the settings with one real upgrade — credentials, URL, reachability — and closes the
 * link again with 1000. Fails with why it could not open (e.g. `AuthenticationError`).
 */
export const probe: Effect.Effect<void, ConnectionError, ConnectorConfig | WebSocketDialer> = Effect.gen(function*() {
  const config = yield* ConnectorConfig
  const dialer = yield* WebSocketDialer
  yield* openLink({ dial: () => dialer.dial(config.url, dialOptions(config)), connectTimeout: config.connectTimeout }).pipe(Effect.scoped)
}).pipe(Effect.withSpan("Connection.probe"))

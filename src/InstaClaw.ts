/**
 * The one entry an Effect application needs: `InstaClaw.layer(options)` builds Config, Logger,
 * Protocol, Connection and the Connector program, given an `Agent`.
 *
 * ```ts
 * const Live = InstaClaw.layer({ clientId: "my-app", clientSecret: "…" }).pipe(
 *   Layer.provide(Agent.layer((request) => Stream.make(`You said: ${request.text}`)))
 * )
 * ```
 *
 * Logging: the connector's own fibers log through its Logger layer (to the `LogSink`, stderr by
 * default); your application's logger is left alone.
 *
 * @since 0.1.0
 */
import { Layer, type Schedule } from "effect"
import type { Agent } from "./Agent.ts"
import { type ConfigError, ConnectorConfig, type ConnectorInput } from "./Config.ts"
import { Connection, ReconnectPolicy, type ReconnectInput, WebSocketDialer } from "./Connection.ts"
import { Connector } from "./Connector.ts"
import * as DedupeStore from "./DedupeStore.ts"
import * as InstaLogger from "./Logger.ts"
import { Protocol } from "./Protocol.ts"

/** Every service of a running connector. */
export type Services = Connector | Connection | Protocol | ConnectorConfig

/** From a validated config; for hosts that build `ConnectorConfig` themselves. */
export const layerWithConfig: Layer.Layer<Connector | Connection | Protocol, never, ConnectorConfig | Agent | WebSocketDialer> =
  Connector.layer.pipe(
    Layer.provideMerge(Connection.layerNoDeps),
    Layer.provideMerge(Protocol.layer),
    Layer.provide(InstaLogger.layerFromConfig)
  )

/** What the settings table does not hold: values that are code, not configuration. */
export interface LayerOptions {
  /**
   * The reconnect policy: any `Schedule` over link failures (default `Connection.defaultReconnect()`,
   * the protocol's backoff). It starts over after every successful open.
   */
  readonly reconnect?: Schedule.Schedule<unknown, ReconnectInput> | undefined
  /**
   * A file where answered response ids outlive the process (`DedupeStore.layerFile`), so a
   * server's redelivery after a restart is answered once. Default: memory only.
   */
  readonly dedupeFile?: string | undefined
}

/** The whole connector from options (with `INSTACLAW_*` environment overrides). */
export const layer = (options: ConnectorInput, extra: LayerOptions = {}): Layer.Layer<Services, ConfigError, Agent> =>
  layerWithConfig.pipe(
    Layer.provide(WebSocketDialer.layer),
    Layer.provideMerge(ConnectorConfig.layer(options)),
    Layer.provide(extra.reconnect === undefined ? Layer.empty : Layer.succeed(ReconnectPolicy, extra.reconnect)),
    Layer.provide(extra.dedupeFile === undefined ? Layer.empty : DedupeStore.layerFile(extra.dedupeFile))
  )

/** The whole connector configured from the environment alone. */
export const layerFromEnv: Layer.Layer<Services, ConfigError, Agent> = layer({})

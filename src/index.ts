/**
 * insta-claw-connector: the public surface for Effect applications.
 *
 * `InstaClaw.layer(options)` runs the connector; `Agent` is the port you implement; the other
 * namespaces are the layers it is built from, for those who compose them differently.
 * Nothing here imports OpenClaw: the plugin entry is `insta-claw-connector/openclaw`.
 *
 * @since 0.1.0
 */
export * as Agent from "./Agent.ts"
export * as Config from "./Config.ts"
export * as Connection from "./Connection.ts"
export * as Connector from "./Connector.ts"
export * as InstaClaw from "./InstaClaw.ts"
export * as Logger from "./Logger.ts"
export * as Metrics from "./Metrics.ts"
export * as Protocol from "./Protocol.ts"

/** The OpenClaw plugin entry (registers the `instaclaw` channel); imports nothing from OpenClaw at run time. */
export { default } from "./plugin.ts"

/**
 * insta-claw-connector: the Effect library.
 *
 * `InstaClaw.layer(options)` runs the connector; `Agent` is the port you implement; the other
 * namespaces are the layers it is built from, for those who compose them differently.
 *
 * Three entry points, one per kind of user:
 * - `insta-claw-connector` (this one) — layers, services, errors and the Agent port. Its type
 *   declarations need only `effect` and `ws`: nothing here imports OpenClaw.
 * - `insta-claw-connector/openclaw` — the OpenClaw plugin entry (`openclaw.extensions`).
 * - `insta-claw-connector/testing` — the reference server, a fake dialer and frame builders,
 *   for testing your own code against the connector under `TestClock`.
 *
 * @since 0.1.0
 */
export * as Agent from "./Agent.ts"
export * as Config from "./Config.ts"
export * as Connection from "./Connection.ts"
export * as Connector from "./Connector.ts"
export * as DedupeStore from "./DedupeStore.ts"
export * as InstaClaw from "./InstaClaw.ts"
export * as Logger from "./Logger.ts"
export * as Media from "./Media.ts"
export * as Metrics from "./Metrics.ts"
export * as Protocol from "./Protocol.ts"

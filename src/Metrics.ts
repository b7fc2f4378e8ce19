/**
 * Counters the connector keeps, as Effect `Metric`s: export them with any Effect metrics
 * exporter (e.g. `effect/observability`'s OTLP modules), or read them with `Metric.value`.
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

export const messagesIn = Metric.counter("instaclaw_messages_in", {
  description: "Completed inbound messages handed to the agent"
})
export const messagesOut = Metric.counter("instaclaw_messages_out", {
  description: "Replies sent completely (response.completed written)"
})
export const repliesFailed = Metric.counter("instaclaw_replies_failed", {
  description: "Replies that ended in response.failed or could not be sent"
})
export const reconnects = Metric.counter("instaclaw_reconnects", {
  description: "Reconnect attempts scheduled"
})
export const protocolViolations = Metric.counter("instaclaw_protocol_violations", {
  description: "Inbound events refused by the protocol rules (docs/PROTOCOL.md §4)"
})
export const heartbeatTimeouts = Metric.counter("instaclaw_heartbeat_timeouts", {
  description: "Links dropped because the server was silent for timeoutThreshold"
})
export const messagesAcknowledged = Metric.counter("instaclaw_messages_acknowledged", {
  description: "Acks sent to the server for user messages taken (protocol v2, docs/PROTOCOL.md §7)"
})
export const envelopesRedelivered = Metric.counter("instaclaw_envelopes_redelivered", {
  description: "Inbound envelopes seen before (a server's redelivery), dropped"
})
export const messagesDeduplicated = Metric.counter("instaclaw_messages_deduplicated", {
  description: "Redelivered user messages already answered: acknowledged again, not answered again"
})

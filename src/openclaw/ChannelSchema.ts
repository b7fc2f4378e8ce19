/**
 * The JSON Schema and UI hints for `channels.instaclaw`, as OpenClaw reads them. The same object
 * is in `openclaw.plugin.json` (which the host reads before loading any code); a test keeps the
 * two identical. Values are validated again, with readable sentences, by `Config.decodeSettings`.
 *
 * @since 0.1.0
 */

const millis = (description: string) => ({ type: ["integer", "string"], description: `${description} (milliseconds)` })
const count = (description: string) => ({ type: ["integer", "string"], description })

/** The settings of one account. */
const accountProperties = {
  enabled: { type: ["boolean", "string"], description: "Set to false to turn the connector off" },
  name: { type: "string", description: "Display name of the account" },
  clientId: { type: "string", description: "Sent as x-app-key" },
  clientSecret: { type: "string", description: "Sent as x-app-secret; never logged" },
  systemPrompt: { type: "string", description: "Extra instructions given to the agent with every message" },
  debug: { type: ["boolean", "string"], description: "Log DEBUG lines" },
  url: { type: "string", description: "InstaClaw WebSocket URL (wss://, or ws:// for loopback)" },
  heartbeatInterval: millis("Time between pings"),
  timeoutThreshold: millis("Silence after which the link is dropped"),
  connectTimeout: millis("Time an upgrade may take"),
  sendTimeout: millis("Time a send waits for a connection"),
  maxReconnectAttempts: count("Consecutive failed attempts before giving up; leave out to retry forever"),
  maxFrameBytes: count("Largest inbound frame, in bytes"),
  deltaSize: count("Largest outbound delta, in characters"),
  eventProfile: { type: "string", enum: ["full", "minimal"], description: "Open Responses events sent per reply" },
  maxInFlightResponses: count("Inbound responses assembled at once"),
  maxResponseTextBytes: count("Largest inbound message text, in bytes"),
  responseIdleTimeout: millis("How long an unfinished inbound response is kept"),
  maxConcurrentConversations: count("Conversations answered at the same time"),
  shutdownGracePeriod: millis("Time in-flight replies get on shutdown"),
  model: { type: "string", description: "The model field of outbound responses" },
  streaming: {
    type: "object",
    description: "OpenClaw's reply streaming options, e.g. { block: { enabled: true } }",
    additionalProperties: true
  }
} as const

/** JSON Schema of `channels.instaclaw`. */
export const channelSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...accountProperties,
    accounts: {
      type: "object",
      description: "More accounts by id; each takes the same keys and inherits the ones above",
      additionalProperties: { type: "object", additionalProperties: false, properties: accountProperties }
    }
  }
} as const

/** How the settings show in OpenClaw's config UI. */
export const uiHints = {
  clientId: { label: "Client ID", help: "The x-app-key InstaClaw gave you", placeholder: "my-app" },
  clientSecret: { label: "Client secret", help: "The x-app-secret InstaClaw gave you", sensitive: true },
  url: { label: "Server URL", placeholder: "wss://claw-dev.int-os.com/user-ws/", advanced: true },
  systemPrompt: { label: "System prompt", help: "Extra instructions for the agent in InstaClaw chats" },
  debug: { label: "Debug logging", advanced: true },
  heartbeatInterval: { label: "Heartbeat interval (ms)", advanced: true },
  timeoutThreshold: { label: "Timeout threshold (ms)", advanced: true },
  eventProfile: { label: "Event profile", advanced: true }
} as const

/**
 * The JSON Schema and UI hints of `channels.instaclaw`, derived from the settings table
 * (`src/Settings.ts`) — never written by hand. `openclaw.plugin.json`, which OpenClaw reads
 * before loading any code, is generated from `manifest` by `npm run manifest`; a test keeps the
 * committed file equal to it. Values are validated again, with readable sentences, by
 * `Config.decodeSettings`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { InputSchema, uiHints as settingHints } from "../Settings.ts"

/** Keys of `channels.instaclaw` that belong to OpenClaw or to the account, not to the connector. */
const channelKeys = {
  name: { type: "string", description: "Display name of the account" },
  streaming: {
    type: "object",
    description: "OpenClaw's reply streaming options, e.g. { block: { enabled: true } }",
    additionalProperties: true
  }
} as const

const { schema: settingsSchema } = Schema.toJsonSchemaDocument(InputSchema)

/** The settings of one account: every connector setting plus the channel's own keys. */
const accountProperties: Record<string, unknown> = { ...(settingsSchema.properties as Record<string, unknown>), ...channelKeys }

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
export const uiHints = settingHints

/**
 * Settings that take effect on the next message, without a restart: the agent reads them from
 * OpenClaw's current config at each message. (`streaming` is OpenClaw's own, read by it per reply.)
 */
export const LIVE_KEYS = [
  "systemPrompt",
  "dmPolicy",
  "allowFrom",
  "sessionScope",
  "streaming",
  // Group chats (`Groups.ts`): read at each group message.
  "groupPolicy",
  "groupAllowFrom",
  "groups",
  "historyLimit"
] as const

/** The plugin and the channel it adds. */
export const PLUGIN_ID = "insta-claw-connector"
export const CHANNEL_ID = "instaclaw"

/** `openclaw.plugin.json`, as `npm run manifest` writes it. */
export const manifest = {
  id: PLUGIN_ID,
  name: "InstaClaw",
  description: "InstaClaw channel: one authenticated WebSocket speaking Open Responses streaming events both ways",
  channels: [CHANNEL_ID],
  configSchema: { type: "object", additionalProperties: false, properties: {} },
  channelConfigs: { [CHANNEL_ID]: { schema: channelSchema, uiHints } }
}

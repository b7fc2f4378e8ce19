/**
 * Every setting of the connector, declared once. Each row gives the setting's `Schema`, its
 * default, its environment variable, what it means, and the phrase that completes an error
 * sentence ("… must be <allowed>"). Everything else is derived from this table:
 *
 * - the `ConnectorSettings` type and the `ConnectorInput` type (`src/Config.ts`);
 * - the defaults and the `INSTACLAW_*` names (`defaults`, `environmentVariables`);
 * - the decoding with its sentences (`Config.decodeSettings`);
 * - the JSON Schema and UI hints of `channels.instaclaw` (`src/openclaw/ChannelSchema.ts`), and
 *   from them `openclaw.plugin.json` (`npm run manifest`; a test keeps the committed file equal).
 *
 * Adding a setting is one row here plus its line in the README's configuration table.
 *
 * Gotchas: numbers and flags accept strings too — environment variables and OpenClaw's
 * `${VAR}` substitution arrive as strings.
 *
 * @since 0.1.0
 */
import { Schema, SchemaTransformation } from "effect"
import { isLoopbackHost } from "./Media.ts"

/** Which Open Responses events a reply is sent with (docs/PROTOCOL.md §4). */
export const EventProfile = Schema.Literals(["full", "minimal"])
export type EventProfile = typeof EventProfile.Type

export const DEFAULT_URL = "wss://claw-dev.int-os.com/user-ws/"

// ---------------------------------------------------------------------------------------------
// Value schemas
// ---------------------------------------------------------------------------------------------

/** A whole number ≥ `min`, as a number or a numeric string. */
const wholeNumber = (min: number) =>
  Schema.Union([
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(min)),
    Schema.FiniteFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(min))
  ])
const Positive = wholeNumber(1)

const Flag = Schema.Union([
  Schema.Boolean,
  Schema.Literals(["true", "false", "1", "0", "yes", "no"]).pipe(
    Schema.decodeTo(
      Schema.Boolean,
      SchemaTransformation.transform({
        decode: (text) => text === "true" || text === "1" || text === "yes",
        encode: (flag) => (flag ? "true" : "false")
      })
    )
  )
])

/** `wss://` anywhere; `ws://` only to a loopback host (docs/PROTOCOL.md §1). */
const WebSocketUrl = Schema.String.check(
  Schema.makeFilter((raw) => {
    if (!URL.canParse(raw)) return false
    const url = new URL(raw)
    return url.protocol === "wss:" || (url.protocol === "ws:" && isLoopbackHost(url.hostname))
  }, {
    expected: "a wss:// URL, or ws:// to a loopback host",
    // JSON Schema can only approximate the loopback rule; decoding applies it with a sentence.
    toJsonSchema: () => [{ pattern: "^wss?://" }, true]
  })
)

/** InstaClaw senderIds, or `"*"` for everyone. */
const SenderIds = Schema.Array(Schema.String.check(Schema.isMaxLength(256)))

/** One group's settings under `groups` (docs/PROTOCOL.md §8.2; `src/openclaw/Groups.ts`). */
const GroupEntry = Schema.Struct({
  requireMention: Schema.optionalKey(Flag.annotate({ description: "Answer only when the agent is mentioned (or replied to); default true" })),
  allowFrom: Schema.optionalKey(SenderIds.annotate({ description: "The senderIds who may talk to the agent in this group, instead of groupAllowFrom" }))
})

/** An OpenClaw secret reference: the secret lives in an environment variable, a file, … */
const SecretRef = Schema.Struct({
  source: Schema.Literals(["env", "file", "exec", "store"]),
  provider: Schema.String,
  id: Schema.String
})

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/** How a setting shows in OpenClaw's config UI. */
export interface UiHint {
  readonly label: string
  readonly help?: string
  readonly placeholder?: string
  readonly sensitive?: boolean
  readonly advanced?: boolean
}

/** One setting. `A` is the validated value, `I` what a config object or environment may hold. */
export interface Setting<A, I> {
  readonly schema: Schema.Codec<A, I>
  /** Used when the setting is absent; `undefined` = no value (or, for clientId/clientSecret, required). */
  readonly default: A | undefined
  readonly env?: string
  readonly description: string
  /** Completes "… must be <allowed>, but received …". */
  readonly allowed: string
  readonly ui?: UiHint
}

const setting = <A, I, const D extends NoInfer<A> | undefined>(
  schema: Schema.Codec<A, I>,
  options: Omit<Setting<A, I>, "schema" | "default"> & { readonly default: D }
): Setting<A, I> & { readonly default: D } => ({
  schema,
  ...options
})

const millis = <const D extends number | undefined>(fallback: D, description: string, extra: Pick<Setting<number, number | string>, "env" | "ui"> = {}) =>
  setting(Positive, { default: fallback, description: `${description} (milliseconds)`, allowed: "a positive whole number of milliseconds", ...extra })

export const settings = {
  enabled: setting(Flag, { default: true, description: "Set to false to turn the connector off", allowed: "true or false" }),
  clientId: setting(Schema.String, {
    default: undefined,
    env: "INSTACLAW_CLIENT_ID",
    description: "Sent as x-app-key",
    allowed: "a non-empty string",
    ui: { label: "Client ID", help: "The x-app-key InstaClaw gave you", placeholder: "my-app" }
  }),
  clientSecret: setting(Schema.Union([Schema.String, SecretRef]), {
    default: undefined,
    env: "INSTACLAW_CLIENT_SECRET",
    description: "Sent as x-app-secret; never logged. Inside OpenClaw also a secret reference ({ source: env | file, provider, id })",
    allowed: "a non-empty string",
    ui: { label: "Client secret", help: "The x-app-secret InstaClaw gave you", sensitive: true }
  }),
  systemPrompt: setting(Schema.String, {
    default: undefined,
    description: "Extra instructions given to the agent with every message",
    allowed: "a string",
    ui: { label: "System prompt", help: "Extra instructions for the agent in InstaClaw chats" }
  }),
  debug: setting(Flag, {
    default: false,
    env: "INSTACLAW_DEBUG",
    description: "Log DEBUG lines",
    allowed: "true or false",
    ui: { label: "Debug logging", advanced: true }
  }),
  url: setting(WebSocketUrl, {
    default: DEFAULT_URL,
    env: "INSTACLAW_WS_URL",
    description: "InstaClaw WebSocket URL (wss://, or ws:// for loopback)",
    allowed: "a wss:// URL (ws:// is allowed only for localhost, 127.0.0.0/8 or ::1)",
    ui: { label: "Server URL", placeholder: DEFAULT_URL, advanced: true }
  }),
  heartbeatInterval: millis(30_000, "Time between pings", {
    env: "INSTACLAW_HEARTBEAT_INTERVAL",
    ui: { label: "Heartbeat interval (ms)", advanced: true }
  }),
  // No fixed default: three heartbeats (`Config.decodeSettings`).
  timeoutThreshold: millis(undefined, "Silence after which the link is dropped; default three heartbeats", {
    env: "INSTACLAW_TIMEOUT_THRESHOLD",
    ui: { label: "Timeout threshold (ms)", advanced: true }
  }),
  connectTimeout: millis(10_000, "Time an upgrade may take"),
  // Well inside OpenClaw's own 10 s wait for `message send`, so the plugin's sentence arrives first.
  sendTimeout: millis(5_000, "Time a send waits for a connection"),
  maxReconnectAttempts: setting(Positive, {
    default: undefined,
    description: "Consecutive failed attempts before giving up; leave out to retry forever",
    allowed: "a positive whole number (leave it out to retry forever)"
  }),
  maxFrameBytes: setting(Positive, { default: 1024 * 1024, description: "Largest inbound frame, in bytes", allowed: "a positive whole number of bytes" }),
  deltaSize: setting(wholeNumber(2), {
    default: 50,
    description: "Largest outbound delta, in characters",
    allowed: "a whole number of characters, at least 2"
  }),
  eventProfile: setting(EventProfile, {
    default: "full",
    description: "Open Responses events sent per reply",
    allowed: "\"full\" or \"minimal\"",
    ui: { label: "Event profile", advanced: true }
  }),
  maxInFlightResponses: setting(Positive, { default: 1000, description: "Inbound responses assembled at once", allowed: "a positive whole number" }),
  maxResponseTextBytes: setting(Positive, {
    default: 1024 * 1024,
    description: "Largest inbound message text, in bytes",
    allowed: "a positive whole number of bytes"
  }),
  responseIdleTimeout: millis(5 * 60_000, "How long an unfinished inbound response is kept"),
  maxConcurrentConversations: setting(Positive, {
    default: 16,
    description: "Conversations answered at the same time",
    allowed: "a positive whole number"
  }),
  shutdownGracePeriod: millis(5_000, "Time in-flight replies get on shutdown"),
  dmPolicy: setting(Schema.Literals(["open", "allowlist", "pairing", "disabled"]), {
    default: "open",
    description: "Who may talk to the agent: open (every InstaClaw user), allowlist (allowFrom only), pairing (new senders get a code to approve), disabled",
    allowed: "\"open\", \"allowlist\", \"pairing\" or \"disabled\"",
    ui: { label: "Direct message policy", help: "InstaClaw authenticates its users; keep open unless only some may use the agent" }
  }),
  allowFrom: setting(Schema.Array(Schema.String.check(Schema.isMaxLength(256))), {
    default: ["*"],
    description: "InstaClaw senderIds allowed to talk to the agent; \"*\" means everyone",
    allowed: "a list of senderIds (or [\"*\"])",
    ui: { label: "Allowed senders", help: "InstaClaw senderIds, or * for everyone" }
  }),
  sessionScope: setting(Schema.Literals(["conversation", "host"]), {
    default: "conversation",
    description:
      "conversation: each InstaClaw conversation of each account is its own agent session; host: OpenClaw's session.dmScope decides",
    allowed: "\"conversation\" or \"host\"",
    ui: { label: "Session per conversation", help: "Keep \"conversation\" unless one person owns every conversation", advanced: true }
  }),
  progressEvents: setting(Flag, {
    default: false,
    description: "Stream the agent's reasoning and tool steps as Open Responses reasoning / function_call items (full profile)",
    allowed: "true or false",
    ui: { label: "Reasoning and tool progress", advanced: true }
  }),
  model: setting(Schema.NonEmptyString, { default: "openclaw", description: "The model field of outbound responses", allowed: "a non-empty string" }),
  // No default of its own: OpenClaw's `agents.defaults.mediaMaxMb` applies (`openclaw/Media.ts`).
  mediaMaxMb: setting(
    Schema.Union([Schema.Finite.check(Schema.isGreaterThan(0)), Schema.FiniteFromString.check(Schema.isGreaterThan(0))]),
    {
      default: undefined,
      description: "Largest photo, voice note or file taken from a message or sent in a reply, in megabytes; default OpenClaw's agents.defaults.mediaMaxMb",
      allowed: "a positive number of megabytes",
      ui: { label: "Media size limit (MB)", advanced: true }
    }
  ),
  // Group chats (§8.2): which groups and senders reach the agent, and when it answers there.
  groupPolicy: setting(Schema.Literals(["open", "allowlist", "disabled"]), {
    default: "allowlist",
    description:
      "Who may talk to the agent in group chats: allowlist (senders in groupAllowFrom, in the groups listed under groups if any), open (every group and sender), disabled",
    allowed: "\"open\", \"allowlist\" or \"disabled\"",
    ui: { label: "Group policy", help: "allowlist answers only the senders in groupAllowFrom; a mention is still needed" }
  }),
  groupAllowFrom: setting(SenderIds, {
    default: [],
    description: "InstaClaw senderIds who may talk to the agent in group chats; \"*\" means every member. Direct-chat access (allowFrom, pairing) does not count in groups",
    allowed: "a list of senderIds (or [\"*\"])",
    ui: { label: "Allowed group senders", help: "InstaClaw senderIds, or * for every member of an allowed group" }
  }),
  groups: setting(Schema.Record(Schema.String, GroupEntry), {
    default: {},
    description:
      "Per group conversationId, or \"*\" for every group: requireMention (default true) and allowFrom. With groupPolicy allowlist and any key set, only the groups listed (or \"*\") are answered",
    allowed: "an object of group ids (or \"*\") to { requireMention, allowFrom }",
    ui: { label: "Groups", help: "e.g. { \"*\": { requireMention: true } }", advanced: true }
  }),
  // No default of its own: OpenClaw's `messages.groupChat.historyLimit` applies, else 50 (`openclaw/Groups.ts`).
  historyLimit: setting(wholeNumber(0), {
    default: undefined,
    description:
      "Unanswered group messages kept as context for the next answer; 0 keeps none; default OpenClaw's messages.groupChat.historyLimit, else 50",
    allowed: "a whole number, 0 or more",
    ui: { label: "Group history limit", advanced: true }
  })
} as const

export type Settings = typeof settings
export type SettingName = keyof Settings

/** The validated value of each setting. */
export type SettingValues = { readonly [K in SettingName]: Settings[K] extends Setting<infer A, any> ? A : never }

/** The defaults, for layers that take settings without a config (e.g. `Protocol.layerWith`). */
export const defaults = {
  progressEvents: settings.progressEvents.default,
  deltaSize: settings.deltaSize.default,
  eventProfile: settings.eventProfile.default,
  model: settings.model.default,
  maxInFlightResponses: settings.maxInFlightResponses.default,
  maxResponseTextBytes: settings.maxResponseTextBytes.default,
  responseIdleTimeout: settings.responseIdleTimeout.default
} as const

/** `INSTACLAW_*` variable of each setting that has one. Environment values win over the config object. */
export const environmentVariables: ReadonlyArray<readonly [SettingName, string]> = Object.entries(settings).flatMap(
  ([name, row]) => ("env" in row && row.env !== undefined ? [[name as SettingName, row.env] as const] : [])
)

/** A setting's description, with its default said in words (see `InputSchema`). */
const describeSetting = (row: Setting<unknown, unknown>): string =>
  row.default === undefined ? row.description : `${row.description}; default ${JSON.stringify(row.default)}`

/**
 * The settings as one `Schema.Struct` of optional keys, described: the source of the JSON Schema.
 *
 * Gotchas: no `default` keyword. OpenClaw fills the schema's defaults into the config it hands
 * out, inside every `accounts.<id>` too, so a named account would never inherit a channel-level
 * value (the channel's `url`, `dmPolicy`, `allowFrom`, …) for a key that has a default. Defaults
 * are applied by `Config.decodeSettings` alone, after inheritance (`openclaw/Account.ts`).
 */
export const InputSchema = Schema.Struct(
  Object.fromEntries(
    Object.entries(settings).map(([name, row]) => [
      name,
      Schema.optionalKey((row.schema as Schema.Codec<unknown, unknown>).annotate({ description: describeSetting(row) }))
    ])
  ) as { readonly [K in SettingName]: Schema.optionalKey<Schema.Codec<SettingValues[K], unknown>> }
)

/** OpenClaw UI hints of the settings that have one. */
export const uiHints: Readonly<Record<string, UiHint>> = Object.fromEntries(
  Object.entries(settings).flatMap(([name, row]) => ("ui" in row && row.ui !== undefined ? [[name, row.ui]] : []))
)

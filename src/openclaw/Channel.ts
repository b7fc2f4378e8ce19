/**
 * The OpenClaw `ChannelPlugin` for InstaClaw: the adapters OpenClaw calls — account config
 * (`Account.ts`), message targets, status defaults, group chats (`Groups.ts`), the gateway
 * lifecycle and outbound `sendText`/`sendMedia` (`Gateway.ts`).
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import type { ChannelPlugin } from "openclaw/plugin-sdk/channel-core"
import { DEFAULT_ACCOUNT_ID, type InstaClawAccount, listAccountIds, normalizeTarget, resolveAccount, resolveSettings } from "./Account.ts"
import { CHANNEL_ID, channelSchema, LIVE_KEYS, uiHints } from "./ChannelSchema.ts"
import { collectStatusIssues, type HostServices, probeAccount, sendText, startAccount, type StartAccountContext } from "./Gateway.ts"
import { requiresMention } from "./Groups.ts"
import { setupContract } from "./Setup.ts"
import { setupWizard } from "./SetupWizard.ts"

export { configProblems, DEFAULT_ACCOUNT_ID, type InstaClawAccount, listAccountIds, normalizeTarget, resolveAccount, resolveSettings } from "./Account.ts"
export { CHANNEL_ID } from "./ChannelSchema.ts"
export {
  collectStatusIssues,
  type HostServices,
  probeAccount,
  sendText,
  startAccount,
  type StartAccountContext,
  toSnapshot
} from "./Gateway.ts"

/**
 * The channel plugin. `host` gives what the entry kept of OpenClaw's runtime (`runtime.channel`,
 * the plugin's folder in the state directory, the live config); it is asked when an account
 * starts, so the plugin object itself can be built before OpenClaw hands over a runtime.
 */
export const makeChannelPlugin = (host: () => HostServices = () => ({})): ChannelPlugin<InstaClawAccount> => ({
  id: CHANNEL_ID,
  meta: {
    id: CHANNEL_ID,
    label: "InstaClaw",
    selectionLabel: "InstaClaw (WebSocket, Open Responses)",
    docsPath: "/channels/instaclaw",
    blurb: "Direct and group chats, with photos and files, from an InstaClaw service over one authenticated WebSocket; replies streamed as Open Responses events."
  },
  // Media (§8.1): photos, voice notes and files both ways (`Media.ts`), `message send --media` included.
  capabilities: { chatTypes: ["direct", "group"], blockStreaming: true, media: true },
  // Whether a group answers without a mention, for the host's group prompt (`Groups.ts` decides).
  groups: {
    resolveRequireMention: ({ cfg, accountId, groupId }) => {
      const { result } = resolveSettings(cfg, accountId)
      return Result.isSuccess(result) && typeof groupId === "string" ? requiresMention(result.success.groups, groupId) : undefined
    }
  },
  // Only the agent's own reply tags ([[reply_to_current]]) quote a message; no reply quotes by default.
  threading: { resolveReplyToMode: () => "off" },
  // Keys applied live (read from the current config at each message) need no restart; the
  // rest restart the channel, or only the changed named account.
  reload: {
    configPrefixes: [`channels.${CHANNEL_ID}`],
    noopPrefixes: LIVE_KEYS.flatMap((key) => [`channels.${CHANNEL_ID}.${key}`, `channels.${CHANNEL_ID}.accounts.*.${key}`]),
    accountScopedRestart: true
  },
  configSchema: { schema: channelSchema as never, uiHints },
  setupContract,
  setupWizard,
  config: {
    listAccountIds,
    resolveAccount,
    defaultAccountId: () => DEFAULT_ACCOUNT_ID,
    isEnabled: (account) => account.enabled,
    isConfigured: (account) => account.configured,
    disabledReason: () => "InstaClaw connector is not enabled in configuration",
    unconfiguredReason: (account) => account.problem ?? "",
    describeAccount: (account) => ({
      accountId: account.accountId,
      ...(account.name === undefined ? {} : { name: account.name }),
      enabled: account.enabled,
      configured: account.configured
    }),
    inspectAccount: (cfg, accountId) => {
      const account = resolveAccount(cfg, accountId)
      return { enabled: account.enabled, configured: account.configured, clientSecretStatus: account.configured ? "available" : "missing" }
    }
  },
  messaging: {
    normalizeTarget,
    targetResolver: {
      looksLikeId: (raw) => normalizeTarget(raw) !== undefined,
      hint: "an InstaClaw conversation id, e.g. conv_42"
    }
  },
  status: {
    defaultRuntime: { accountId: DEFAULT_ACCOUNT_ID, running: false, connected: false, lifecycle: "stopped" },
    collectStatusIssues: (accounts) => collectStatusIssues(accounts),
    probeAccount: (params) => probeAccount(params),
    buildAccountSnapshot: ({ account, probe, runtime }) => ({
      ...runtime,
      accountId: account.accountId,
      enabled: account.enabled,
      configured: account.configured,
      ...(probe === undefined ? {} : { probe })
    })
  },
  gateway: {
    startAccount: (ctx) => startAccount(ctx as unknown as StartAccountContext, host())
  },
  outbound: {
    deliveryMode: "gateway",
    sendText: (ctx) => sendText(ctx),
    sendMedia: (ctx) => sendText(ctx)
  }
})

/**
 * `openclaw channels add` with prompts: the declarative setup wizard OpenClaw runs for the
 * channel (the SDK's `ChannelSetupWizard`). It asks for the client id, then the client secret —
 * typed in, or kept as a secret reference (to `INSTACLAW_CLIENT_SECRET`, or to any env or file
 * provider, as OpenClaw offers) — then the URL. Every value goes through `applySetup`, the same
 * function as the flags of `Setup.ts`, and is checked with the same sentences as at startup.
 *
 * @since 0.1.0
 */
import type { OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import type { ChannelSetupWizard } from "openclaw/plugin-sdk/channel-setup"
import { Result } from "effect"
import { decodeSettings } from "../Config.ts"
import { settings } from "../Settings.ts"
import { DEFAULT_ACCOUNT_ID, resolveAccount, sectionOf } from "./Account.ts"
import { CHANNEL_ID } from "./ChannelSchema.ts"
import { applySetup } from "./Setup.ts"

/** The variable offered for the secret (the one the connector reads on its own, too). */
export const SECRET_ENV = "INSTACLAW_CLIENT_SECRET"

/** The account's own value of `key`, else the top-level one (as the account resolves it). */
const configured = (cfg: OpenClawConfig, accountId: string, key: string): unknown => {
  const section = sectionOf(cfg)
  const own = accountId === DEFAULT_ACCOUNT_ID ? undefined : section.accounts?.[accountId]?.[key]
  return own ?? section[key]
}

const stringValue = (value: unknown) => (typeof value === "string" && value.trim() !== "" ? value : undefined)

/** The sentence for one bad setting, checked alone (the other settings stand in as valid). */
const checkSetting = (key: "clientId" | "url", value: string): string | undefined => {
  const decoded = decodeSettings({ clientId: "id", clientSecret: "secret", [key]: value })
  return Result.isFailure(decoded) ? decoded.failure.message : undefined
}

export const setupWizard: ChannelSetupWizard = {
  channel: CHANNEL_ID,
  status: {
    configuredLabel: "configured",
    unconfiguredLabel: "needs a client id and secret",
    configuredHint: "connects with its x-app-key/x-app-secret",
    unconfiguredHint: "the x-app-key and x-app-secret your InstaClaw service gave you",
    resolveConfigured: ({ cfg, accountId }) => resolveAccount(cfg, accountId ?? DEFAULT_ACCOUNT_ID).configured,
    resolveStatusLines: ({ cfg, accountId, configured: isConfigured }) => {
      if (isConfigured) return []
      const problem = resolveAccount(cfg, accountId ?? DEFAULT_ACCOUNT_ID).problem
      return problem === undefined ? [] : [problem]
    }
  },
  introNote: {
    title: "InstaClaw",
    lines: [
      "The connector keeps one WebSocket to your InstaClaw service, authenticated with the",
      "x-app-key (client id) and x-app-secret (client secret) the service gave you."
    ]
  },
  stepOrder: "text-first",
  textInputs: [
    {
      inputKey: "clientId",
      message: "InstaClaw client id (x-app-key)",
      required: true,
      // A value kept at the prompt is not written: the account goes on inheriting it.
      currentValue: ({ cfg, accountId }) => stringValue(configured(cfg, accountId, "clientId")),
      validate: ({ value }) => checkSetting("clientId", value.trim()),
      normalizeValue: ({ value }) => value.trim(),
      applySet: ({ cfg, accountId, value }) => applySetup(cfg, accountId, { clientId: value })
    },
    {
      inputKey: "url",
      message: "InstaClaw WebSocket URL",
      placeholder: settings.url.default,
      currentValue: ({ cfg, accountId }) => stringValue(configured(cfg, accountId, "url")),
      initialValue: () => settings.url.default,
      validate: ({ value }) => checkSetting("url", value.trim()),
      normalizeValue: ({ value }) => value.trim(),
      applySet: ({ cfg, accountId, value }) => applySetup(cfg, accountId, { url: value })
    }
  ],
  credentials: [
    {
      inputKey: "clientSecret",
      providerHint: CHANNEL_ID,
      credentialLabel: "InstaClaw client secret (x-app-secret)",
      preferredEnvVar: SECRET_ENV,
      envPrompt: `${SECRET_ENV} is set. Use it? (The config keeps a reference to the variable, not the secret.)`,
      keepPrompt: "A client secret is configured. Keep it?",
      inputPrompt: "InstaClaw client secret (x-app-secret)",
      allowEnv: () => true,
      inspect: ({ cfg, accountId }) => {
        const secret = configured(cfg, accountId, "clientSecret")
        const envValue = stringValue(process.env[SECRET_ENV])
        return {
          accountConfigured: resolveAccount(cfg, accountId).configured,
          hasConfiguredValue: secret !== undefined && secret !== "",
          ...(typeof secret === "string" && secret !== "" ? { resolvedValue: secret } : {}),
          ...(envValue === undefined ? {} : { envValue })
        }
      },
      applyUseEnv: ({ cfg, accountId }) => applySetup(cfg, accountId, { clientSecretEnv: SECRET_ENV }),
      // A typed secret is a string; a chosen provider gives a secret reference, stored as is.
      applySet: ({ cfg, accountId, value }) =>
        typeof value === "string"
          ? applySetup(cfg, accountId, { clientSecret: value })
          : applySetup(cfg, accountId, { clientSecretRef: value as { readonly source: string; readonly provider: string; readonly id: string } })
    }
  ],
  completionNote: {
    title: "InstaClaw",
    lines: [
      "A running gateway picks the account up by itself (no restart needed).",
      "`openclaw channels status` shows it connected, or the sentence that says what to fix."
    ]
  }
}

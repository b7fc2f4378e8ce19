/**
 * `openclaw channels add --channel instaclaw …`: the setup contract (the SDK's
 * `defineChannelSetupContract`), for the interactive wizard and for non-interactive flags alike.
 *
 * ```sh
 * openclaw channels add --channel instaclaw --client-id my-app --client-secret-env INSTACLAW_SECRET
 * openclaw channels add --channel instaclaw --account eu --client-id eu-app \
 *   --client-secret-file /run/secrets/instaclaw --url wss://eu.example/user-ws/
 * ```
 *
 * `--client-secret-env` and `--client-secret-file` store an OpenClaw secret reference instead of
 * the secret itself; `--client-secret` stores a plain string. The values are checked with the
 * same sentences as at startup. `package.json`'s `openclaw.channel.setup.fields` lists the same
 * fields (a test keeps them equal), so `--help` knows them without loading the plugin.
 *
 * @since 0.1.0
 */
import type { ChannelPlugin, OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import { defineChannelSetupContract } from "openclaw/plugin-sdk/channel-setup"
import { Result } from "effect"
import { decodeSettings } from "../Config.ts"
import { DEFAULT_ACCOUNT_ID, type Section, sectionOf } from "./Account.ts"
import { CHANNEL_ID } from "./ChannelSchema.ts"

/** The setup fields, in the serializable form `package.json` carries too. */
export const setupFields = {
  clientId: { kind: "string", cli: { flags: "--client-id <id>", description: "The x-app-key InstaClaw gave you" } },
  clientSecret: { kind: "string", sensitive: true, cli: { flags: "--client-secret <secret>", description: "The x-app-secret, stored in the config as is" } },
  clientSecretEnv: {
    kind: "string",
    cli: { flags: "--client-secret-env <variable>", description: "Read the x-app-secret from this environment variable (a secret reference)" }
  },
  clientSecretFile: {
    kind: "string",
    cli: { flags: "--client-secret-file <path>", description: "Read the x-app-secret from this file (a secret reference)" }
  },
  url: { kind: "string", cli: { flags: "--url <url>", description: "InstaClaw WebSocket URL (wss://, or ws:// for loopback)" } },
  systemPrompt: { kind: "string", cli: { flags: "--system-prompt <text>", description: "Extra instructions given to the agent with every message" } }
} as const

/** `package.json`'s `openclaw.channel.setup.fields`: the same fields, as a list. */
export const setupFieldsManifest = Object.entries(setupFields).map(([key, field]) => ({ key, ...field }))

export interface SetupInput {
  readonly clientId?: string | undefined
  readonly clientSecret?: string | undefined
  readonly clientSecretEnv?: string | undefined
  readonly clientSecretFile?: string | undefined
  /** A secret reference chosen in the wizard (any provider OpenClaw knows). */
  readonly clientSecretRef?: { readonly source: string; readonly provider: string; readonly id: string } | undefined
  readonly url?: string | undefined
  readonly systemPrompt?: string | undefined
  readonly allowFrom?: ReadonlyArray<string> | undefined
}

/** The account's keys as the input sets them; a secret from env or file becomes a secret reference. */
const accountPatch = (input: SetupInput): Record<string, unknown> => ({
  ...(input.clientId === undefined ? {} : { clientId: input.clientId }),
  ...(input.clientSecretRef !== undefined
    ? { clientSecret: { source: input.clientSecretRef.source, provider: input.clientSecretRef.provider, id: input.clientSecretRef.id } }
    : input.clientSecretEnv !== undefined
    ? { clientSecret: { source: "env", provider: "default", id: input.clientSecretEnv } }
    : input.clientSecretFile !== undefined
    ? { clientSecret: { source: "file", provider: "default", id: input.clientSecretFile } }
    : input.clientSecret === undefined
    ? {}
    : { clientSecret: input.clientSecret }),
  ...(input.url === undefined ? {} : { url: input.url }),
  ...(input.systemPrompt === undefined ? {} : { systemPrompt: input.systemPrompt }),
  ...(input.allowFrom === undefined ? {} : { allowFrom: [...input.allowFrom] })
})

/** The config with the account's keys set: top-level for `default`, else under `accounts.<id>`. */
export const applySetup = (cfg: OpenClawConfig, accountId: string, input: SetupInput): OpenClawConfig => {
  const channels = ((cfg as { readonly channels?: Record<string, unknown> }).channels ?? {}) as Record<string, unknown>
  const section = sectionOf(cfg)
  const patch = accountPatch(input)
  const next: Section = accountId === DEFAULT_ACCOUNT_ID
    ? { ...section, ...patch }
    : { ...section, accounts: { ...section.accounts, [accountId]: { ...section.accounts?.[accountId], ...patch } } }
  return { ...cfg, channels: { ...channels, [CHANNEL_ID]: next } } as OpenClawConfig
}

/** `null`, or the sentence that says what to fix (a secret reference counts as given). */
export const validateSetup = (cfg: OpenClawConfig, accountId: string, input: SetupInput): string | null => {
  const section = sectionOf(cfg)
  const own = accountId === DEFAULT_ACCOUNT_ID ? {} : (section.accounts?.[accountId] ?? {})
  const { accounts: _accounts, streaming: _streaming, name: _name, ...shared } = section
  const merged: Record<string, unknown> = { ...shared, ...own, ...accountPatch(input) }
  if (typeof merged.clientSecret === "object" && merged.clientSecret !== null) merged.clientSecret = "<secret reference>"
  const decoded = decodeSettings(merged)
  return Result.isFailure(decoded) ? decoded.failure.message : null
}

export const setupContract: NonNullable<ChannelPlugin["setupContract"]> = defineChannelSetupContract({
  fields: setupFields,
  adapter: {
    applyAccountConfig: ({ accountId, cfg, input }) => applySetup(cfg, accountId, input as SetupInput),
    validateInput: ({ accountId, cfg, input }) => validateSetup(cfg, accountId, input as SetupInput)
  }
})

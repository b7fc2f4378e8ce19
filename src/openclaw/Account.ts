/**
 * Accounts of `channels.instaclaw`, resolved from OpenClaw's config: the top-level keys are the
 * `default` account, each key of `accounts` another one that inherits them. Pure functions — the
 * host calls them from its config hooks, synchronously, many times.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import type { OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import { type ConfigError, type ConnectorSettings, decodeSettings, isEnabled, overridesFrom } from "../Config.ts"
import { CHANNEL_ID } from "./ChannelSchema.ts"

export const DEFAULT_ACCOUNT_ID = "default"

/**
 * One account, resolved. Plain data on purpose: the host clones it, so it carries no secret and
 * no class instance. Never throws on bad config: see `problem`.
 */
export interface InstaClawAccount {
  readonly accountId: string
  readonly name: string | undefined
  readonly enabled: boolean
  readonly configured: boolean
  /** The sentence that says what to fix, when the settings are not valid. */
  readonly problem: string | undefined
}

/** The channel's part of the OpenClaw config: the default account's keys, and `accounts.<id>`. */
export type Section = Record<string, unknown> & { readonly accounts?: Record<string, Record<string, unknown>> }

/** `channels.instaclaw`, or an empty section. */
export const sectionOf = (cfg: OpenClawConfig): Section =>
  ((cfg as { readonly channels?: Record<string, unknown> }).channels?.[CHANNEL_ID] ?? {}) as Section

/** Account ids: `default` for the top-level settings, plus each key of `accounts`. */
export const listAccountIds = (cfg: OpenClawConfig): Array<string> => [
  DEFAULT_ACCOUNT_ID,
  ...Object.keys(sectionOf(cfg).accounts ?? {}).filter((id) => id !== DEFAULT_ACCOUNT_ID)
]

/**
 * The account's validated settings (with the secret), read fresh from the config: the top-level
 * keys, overridden by `accounts.<id>`; `INSTACLAW_*` variables of `env` override the default
 * account (environment wins).
 */
export const resolveSettings = (
  cfg: OpenClawConfig,
  accountId?: string | null,
  env: Readonly<Record<string, string | undefined>> = process.env,
  /** The secret a reference in `clientSecret` resolved to (`Gateway.resolveSecret`). */
  resolvedSecret?: string
) => {
  const id = accountId ?? DEFAULT_ACCOUNT_ID
  const section = sectionOf(cfg)
  const { accounts, streaming: _streaming, name: topName, ...topLevel } = section
  const own = id === DEFAULT_ACCOUNT_ID ? {} : (accounts?.[id] ?? {})
  const { name: ownName, streaming: _ownStreaming, ...ownSettings } = own
  const input: Record<string, unknown> = { ...topLevel, ...ownSettings, ...(id === DEFAULT_ACCOUNT_ID ? overridesFrom(env) : {}) }
  // A secret reference counts as given; only the account's start resolves it (asynchronously).
  const secretRef = isSecretRef(input.clientSecret) ? input.clientSecret : undefined
  if (secretRef !== undefined) input.clientSecret = resolvedSecret ?? "<secret reference>"
  const result: Result.Result<ConnectorSettings, ConfigError> = decodeSettings(input)
  const name = typeof ownName === "string" ? ownName : typeof topName === "string" ? topName : undefined
  const secretPath = `channels.${CHANNEL_ID}${id !== DEFAULT_ACCOUNT_ID && own.clientSecret !== undefined ? `.accounts.${id}` : ""}.clientSecret`
  return { id, name, enabled: isEnabled(input), result, secretRef, secretPath }
}

/** An OpenClaw secret reference: `{ source, provider, id }`. */
export interface SecretReference {
  readonly source: string
  readonly provider: string
  readonly id: string
}

const isSecretRef = (value: unknown): value is SecretReference =>
  typeof value === "object" && value !== null && typeof (value as SecretReference).source === "string" &&
  typeof (value as SecretReference).id === "string"

/** One account as the host sees it. */
export const resolveAccount = (cfg: OpenClawConfig, accountId?: string | null): InstaClawAccount => {
  const { enabled, id, name, result } = resolveSettings(cfg, accountId)
  return {
    accountId: id,
    name,
    enabled,
    configured: Result.isSuccess(result),
    problem: Result.isFailure(result) ? result.failure.message : undefined
  }
}

/** One sentence per enabled account whose settings cannot be used. */
export const configProblems = (cfg: OpenClawConfig): Array<string> =>
  (cfg as { readonly channels?: Record<string, unknown> }).channels?.[CHANNEL_ID] === undefined ? [] : listAccountIds(cfg).flatMap((id) => {
    const account = resolveAccount(cfg, id)
    return account.enabled && account.problem !== undefined ? [`[InstaClawConnector] account ${id}: ${account.problem}`] : []
  })

/** A conversation id from a target such as `instaclaw:conv_42` or `conv_42`. */
export const normalizeTarget = (raw: string): string | undefined => {
  const id = raw.trim().replace(/^instaclaw:/i, "").trim()
  return id === "" || /\s/.test(id) ? undefined : id
}

/**
 * Named accounts inherit the channel's settings, for every setting of the table
 * (`src/Settings.ts`): a key an account leaves out takes the channel-level value, then the
 * built-in default. The channel's JSON Schema carries no `default` keyword, since OpenClaw fills
 * those into every account it hands out and an account would then never inherit (a named account
 * dialled the default remote URL with its credentials, and `dmPolicy`/`allowFrom` fell back to
 * open).
 */
import { assert, describe, it } from "@effect/vitest"
import { Redacted, Result } from "effect"
import type { OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import { resolveSettings } from "../../src/openclaw/Account.ts"
import { liveSettings } from "../../src/openclaw/Gateway.ts"
import { manifest } from "../../src/openclaw/ChannelSchema.ts"
import { type SettingName, settings } from "../../src/Settings.ts"

/**
 * For each setting, a channel-level value and an account's own value, both valid and neither the
 * default. Typed over every setting name: a new setting does not compile until it has a row.
 */
const samples: { readonly [K in SettingName]: readonly [channel: unknown, own: unknown] } = {
  enabled: [false, true], // decoding a disabled account fails: checked on its own below
  clientId: ["top-app", "eu-app"],
  clientSecret: ["top-secret", "eu-secret"],
  systemPrompt: ["Answer as the top account.", "Answer as eu."],
  debug: [true, true],
  url: ["wss://top.example/user-ws/", "wss://eu.example/user-ws/"],
  heartbeatInterval: [20_000, 25_000],
  timeoutThreshold: [200_000, 300_000],
  connectTimeout: [4_000, 6_000],
  sendTimeout: [3_000, 4_000],
  maxReconnectAttempts: [7, 9],
  maxFrameBytes: [2_000_000, 3_000_000],
  deltaSize: [20, 30],
  eventProfile: ["minimal", "minimal"],
  maxInFlightResponses: [50, 60],
  maxResponseTextBytes: [4_096, 8_192],
  responseIdleTimeout: [60_000, 90_000],
  maxConcurrentConversations: [4, 8],
  shutdownGracePeriod: [1_000, 2_000],
  dmPolicy: ["allowlist", "pairing"],
  allowFrom: [["user_top"], ["user_eu"]],
  sessionScope: ["host", "host"],
  progressEvents: [true, true],
  model: ["top-model", "eu-model"],
  mediaMaxMb: [8, 2.5],
  groupPolicy: ["open", "disabled"],
  groupAllowFrom: [["user_top"], ["user_eu"]],
  groups: [{ "*": { requireMention: false } }, { grp_eu: { requireMention: true, allowFrom: ["user_eu"] } }],
  historyLimit: [10, 0]
}

const names = Object.keys(settings) as Array<SettingName>
const required = { clientId: "top-app", clientSecret: "top-secret" }
const schema = manifest.channelConfigs.instaclaw.schema

/**
 * What OpenClaw does with the config before the plugin sees it: each `default` of the schema is
 * filled into the channel and into every account that leaves the key out.
 */
const asTheHostHandsItOut = (section: Record<string, unknown>): Record<string, unknown> => {
  const fill = (properties: Record<string, { readonly default?: unknown }>, object: Record<string, unknown>) => {
    const filled = { ...object }
    for (const [key, property] of Object.entries(properties)) {
      if (filled[key] === undefined && property.default !== undefined) filled[key] = property.default
    }
    return filled
  }
  const accountProperties = schema.properties.accounts.additionalProperties.properties as Record<string, { readonly default?: unknown }>
  const accounts = section.accounts as Record<string, Record<string, unknown>>
  return {
    ...fill(schema.properties as Record<string, { readonly default?: unknown }>, section),
    accounts: Object.fromEntries(Object.entries(accounts).map(([id, account]) => [id, fill(accountProperties, account)]))
  }
}

const config = (channel: Record<string, unknown>, eu: Record<string, unknown>) =>
  ({ channels: { instaclaw: asTheHostHandsItOut({ ...required, ...channel, accounts: { eu } }) } }) as unknown as OpenClawConfig

const decoded = (cfg: OpenClawConfig, accountId: string) => {
  const { result } = resolveSettings(cfg, accountId, {})
  if (Result.isFailure(result)) assert.fail(result.failure.message)
  return result.success as unknown as Record<string, unknown>
}
const plain = (value: unknown) => (Redacted.isRedacted(value) ? Redacted.value(value) : value)

/** Every `default` keyword in a JSON Schema, by path. */
const defaultsIn = (node: unknown, path = "$"): Array<string> => {
  if (typeof node !== "object" || node === null) return []
  return Object.entries(node).flatMap(([key, value]) => [
    ...(key === "default" ? [path] : []),
    ...defaultsIn(value, `${path}.${key}`)
  ])
}

describe("accounts inherit the channel's settings", () => {
  it("the channel schema has no default keyword the host could fill into an account", () => {
    assert.deepStrictEqual(defaultsIn(schema), [])
    // The defaults are still told to the operator, in words.
    const properties = schema.properties as Record<string, { readonly description?: string }>
    assert.include(properties.url!.description, settings.url.default)
    assert.include(properties.dmPolicy!.description, "\"open\"")
  })

  for (const name of names.filter((name) => name !== "enabled")) {
    it(`${name}: an account that leaves it out takes the channel's value; its own value wins`, () => {
      const [channel, own] = samples[name]
      assert.notDeepEqual(channel, settings[name].default, "the sample differs from the default")
      // The account writes nothing of its own but what it must to differ from the channel.
      assert.deepStrictEqual(plain(decoded(config({ [name]: channel }, {}), "eu")[name]), channel)
      assert.deepStrictEqual(plain(decoded(config({ [name]: channel }, { [name]: own }), "eu")[name]), own)
    })
  }

  it("an account and a channel that both leave a setting out get the built-in default", () => {
    const values = decoded(config({}, {}), "eu")
    for (const name of names) {
      if (settings[name].default !== undefined) assert.deepStrictEqual(values[name], settings[name].default, name)
    }
  })

  it("a channel-level allowlist is not opened up on a named account that sets only its credentials", () => {
    const cfg = config(
      { url: "wss://top.example/user-ws/", dmPolicy: "allowlist", allowFrom: ["user_top"] },
      { clientId: "eu-app", clientSecret: "eu-secret" }
    )
    const eu = decoded(cfg, "eu")
    assert.strictEqual(eu.url, "wss://top.example/user-ws/")
    assert.strictEqual(eu.dmPolicy, "allowlist")
    assert.deepStrictEqual(eu.allowFrom, ["user_top"])
    assert.strictEqual(eu.clientId, "eu-app")
  })

  it("a channel-level enabled: false turns off an account that does not turn itself on", () => {
    assert.isFalse(resolveSettings(config({ enabled: false }, {}), "eu", {}).enabled)
    assert.isTrue(resolveSettings(config({ enabled: false }, { enabled: true }), "eu", {}).enabled)
  })
})

describe("live settings (Gateway.liveSettings)", () => {
  const cfgWith = (systemPrompt: string) =>
    ({ channels: { instaclaw: { clientId: "id", clientSecret: "secret", url: "ws://127.0.0.1:1/ws", systemPrompt } } }) as unknown as OpenClawConfig

  it("are decoded once per config object the host hands over, and again when it hands a new one", () => {
    let current = cfgWith("first")
    const live = liveSettings(() => current, "default")
    const a = live()
    assert.strictEqual(a?.settings.systemPrompt, "first")
    assert.strictEqual(live(), a, "the same config object: the same decoded settings, not decoded again")
    current = cfgWith("second")
    assert.strictEqual(live()?.settings.systemPrompt, "second")
  })

  it("are absent when the host gives no config, or the current one is not valid", () => {
    assert.isUndefined(liveSettings(undefined, "default")())
    assert.isUndefined(liveSettings(() => ({ channels: { instaclaw: { url: "not a url" } } }) as unknown as OpenClawConfig, "default")())
  })
})

/**
 * The interactive `openclaw channels add` wizard, answered by a script. `runWizard` walks the
 * declarative wizard the way OpenClaw's runner does ("text-first": each text input, then the
 * credential: the environment variable if offered and accepted, else the typed secret or the
 * chosen secret reference), so these tests check what the wizard writes into the config.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import type { OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import * as Channel from "../../src/openclaw/Channel.ts"
import { SECRET_ENV, setupWizard } from "../../src/openclaw/SetupWizard.ts"
import { settings } from "../../src/Settings.ts"

interface Answers {
  /** Typed text per input key; `undefined` accepts the initial value. */
  readonly text: Record<string, string | undefined>
  /** The secret: typed, a reference chosen from a provider, or the environment variable. */
  readonly secret: string | { readonly source: string; readonly provider: string; readonly id: string } | "use-env"
}

const runWizard = async (start: OpenClawConfig, accountId: string, answers: Answers) => {
  let cfg = start
  const refused: Array<string> = []
  for (const input of setupWizard.textInputs ?? []) {
    // A current value (the account's own, or the one it inherits) is offered first: "Keep it?".
    const current = await input.currentValue?.({ cfg, accountId, credentialValues: {} })
    if (current !== undefined && answers.text[input.inputKey] === undefined) {
      if (input.applyCurrentValue === true) cfg = await input.applySet!({ cfg, accountId, value: current })
      continue
    }
    const initial = input.initialValue === undefined ? undefined : await input.initialValue({ cfg, accountId, credentialValues: {} })
    const typed = answers.text[input.inputKey] ?? initial ?? ""
    const problem = input.validate?.({ value: typed, cfg, accountId, credentialValues: {} })
    if (problem !== undefined) {
      refused.push(problem)
      continue
    }
    const value = input.normalizeValue?.({ value: typed, cfg, accountId, credentialValues: {} }) ?? typed
    cfg = await input.applySet!({ cfg, accountId, value })
  }
  const [credential] = setupWizard.credentials
  const state = credential!.inspect({ cfg, accountId })
  if (answers.secret === "use-env") {
    assert.isDefined(state.envValue, "the variable is offered only when it is set")
    cfg = await credential!.applyUseEnv!({ cfg, accountId })
  } else {
    cfg = await credential!.applySet!({ cfg, accountId, credentialValues: {}, value: answers.secret, resolvedValue: "" })
  }
  return { cfg, refused }
}

const section = (cfg: OpenClawConfig) => (cfg as unknown as { channels: { instaclaw: Record<string, any> } }).channels.instaclaw

describe("the channels add wizard", () => {
  it("is the channel's setup wizard", () => {
    assert.strictEqual(Channel.makeChannelPlugin().setupWizard, setupWizard)
    assert.strictEqual(setupWizard.channel, "instaclaw")
    // A value the operator keeps is left to inheritance, not copied into the account.
    assert.isTrue(setupWizard.textInputs!.every((input) => input.applyCurrentValue !== true))
  })

  it("a new named account that keeps the channel's client id and URL stores only its secret, and inherits them", async () => {
    const start = { channels: { instaclaw: { clientId: "top", clientSecret: "top-secret", url: "wss://top.example/ws/" } } } as unknown as OpenClawConfig
    const { cfg, refused } = await runWizard(start, "eu", { text: {}, secret: "eu-secret" })
    assert.deepStrictEqual(refused, [])
    assert.deepStrictEqual(section(cfg).accounts.eu, { clientSecret: "eu-secret" })
    const resolved = Channel.resolveSettings(cfg, "eu", {})
    assert.isTrue(Result.isSuccess(resolved.result))
    if (Result.isSuccess(resolved.result)) {
      assert.strictEqual(resolved.result.success.url, "wss://top.example/ws/")
      assert.strictEqual(resolved.result.success.clientId, "top")
    }
  })

  it("a new default account: client id, the default URL, a typed secret; then configured", async () => {
    const empty = {} as OpenClawConfig
    assert.isFalse(await setupWizard.status.resolveConfigured({ cfg: empty, accountId: "default" }))
    const lines = await setupWizard.status.resolveStatusLines!({ cfg: empty, accountId: "default", configured: false })
    assert.match(lines[0]!, /clientId/, "the status says what is missing")

    const { cfg, refused } = await runWizard(empty, "default", { text: { clientId: "  my-app " }, secret: "s3cret-value" })
    assert.deepStrictEqual(refused, [])
    assert.deepStrictEqual(section(cfg), { clientId: "my-app", url: settings.url.default, clientSecret: "s3cret-value" })
    assert.isTrue(await setupWizard.status.resolveConfigured({ cfg, accountId: "default" }))
    assert.isTrue(Channel.resolveAccount(cfg, "default").configured)
  })

  it("a named account with the secret from INSTACLAW_CLIENT_SECRET keeps a reference, not the secret", async () => {
    const previous = process.env[SECRET_ENV]
    process.env[SECRET_ENV] = "from-the-environment"
    try {
      const { cfg } = await runWizard({} as OpenClawConfig, "eu", { text: { clientId: "eu-app", url: "wss://eu.example/user-ws/" }, secret: "use-env" })
      assert.deepStrictEqual(section(cfg).accounts.eu, {
        clientId: "eu-app",
        url: "wss://eu.example/user-ws/",
        clientSecret: { source: "env", provider: "default", id: SECRET_ENV }
      })
      assert.notInclude(JSON.stringify(cfg), "from-the-environment")
      assert.isTrue(Channel.resolveAccount(cfg, "eu").configured)
    } finally {
      if (previous === undefined) delete process.env[SECRET_ENV]
      else process.env[SECRET_ENV] = previous
    }
  })

  it("a secret reference chosen from a provider is stored as is; inspect sees it configured but never reads it", async () => {
    const ref = { source: "file", provider: "default", id: "/run/secrets/instaclaw" }
    const { cfg } = await runWizard({} as OpenClawConfig, "default", { text: { clientId: "app" }, secret: ref })
    assert.deepStrictEqual(section(cfg).clientSecret, ref)
    const state = setupWizard.credentials[0]!.inspect({ cfg, accountId: "default" })
    assert.isTrue(state.hasConfiguredValue)
    assert.isTrue(state.accountConfigured)
    assert.isUndefined(state.resolvedValue)
  })

  it("refuses a bad URL and an empty client id with the startup sentences, and keeps what was there", async () => {
    const { cfg, refused } = await runWizard({} as OpenClawConfig, "default", { text: { clientId: "", url: "ws://example.com/user-ws/" }, secret: "s" })
    assert.strictEqual(refused.length, 2)
    assert.match(refused[0]!, /clientId/)
    assert.match(refused[1]!, /url/)
    assert.match(refused[1]!, /wss:\/\//)
    assert.isUndefined(section(cfg).url)
    assert.isUndefined(section(cfg).clientId)
  })

  it("a reconfigured named account offers its current values and keeps the top-level ones it inherits", async () => {
    const start = { channels: { instaclaw: { clientId: "top", url: "wss://top.example/ws/", accounts: { eu: { clientId: "eu-old" } } } } } as unknown as OpenClawConfig
    const [clientId, url] = setupWizard.textInputs!
    assert.strictEqual(await clientId!.currentValue!({ cfg: start, accountId: "eu", credentialValues: {} }), "eu-old")
    assert.strictEqual(await url!.currentValue!({ cfg: start, accountId: "eu", credentialValues: {} }), "wss://top.example/ws/")
  })
})

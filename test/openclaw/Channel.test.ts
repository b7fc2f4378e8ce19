import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option, PubSub, Redacted, Result } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Accounts from "../../src/openclaw/Accounts.ts"
import * as Channel from "../../src/openclaw/Channel.ts"
import { channelSchema, manifest as generatedManifest, uiHints } from "../../src/openclaw/ChannelSchema.ts"
import { applySetup, setupFieldsManifest, validateSetup } from "../../src/openclaw/Setup.ts"
import { settings } from "../../src/Settings.ts"
import { type HostServices, settingsFor } from "../../src/openclaw/Gateway.ts"
import { DeliveryAssembler, type HostChannelRuntime } from "../../src/openclaw/OpenClawAgent.ts"
import plugin from "../../src/openclaw/index.ts"
import * as library from "../../src/index.ts"
import { ReferenceServer, type ServerEvent } from "../../src/server/ReferenceServer.ts"
import { fakeGatewayContext, fakeRuntime, within } from "../support/fakeOpenClaw.ts"
import * as Harness from "../support/harness.ts"

const cfgFor = (url: string, extra: Record<string, unknown> = {}) => ({
  channels: { instaclaw: { clientId: "demo", clientSecret: "demo-secret", url, systemPrompt: "Answer in one line.", ...extra } }
})

const startServer = Effect.gen(function*() {
  const server = Context.get(yield* Layer.build(ReferenceServer.layer({ port: 0 })), ReferenceServer)
  return { server, events: yield* server.subscribe }
})

/**
 * Every wait below is bounded (`within`): one that waits in vain fails saying what did not happen,
 * not with the test's bare timeout. These two wrap the harness's unbounded ones.
 */
const waitFor = <T extends ServerEvent["_tag"]>(
  events: PubSub.Subscription<ServerEvent>,
  tag: T,
  where?: (event: Extract<ServerEvent, { readonly _tag: T }>) => boolean
) => Harness.waitFor(events, tag, where).pipe(within(`${tag} at the reference server`))

const collect = <T extends ServerEvent["_tag"]>(events: PubSub.Subscription<ServerEvent>, tag: T, n: number) =>
  Harness.collect(events, tag, n).pipe(within(`${n} × ${tag} at the reference server`))

/** The end of an account's run (the promise `startAccount` returned), once it was aborted. */
const stopped = (run: Promise<unknown>) => Effect.promise(() => run).pipe(within("the aborted account's stop"))

/** Starts an account; the test's scope aborts it and waits, even when an assertion failed. */
const runAccount = (gateway: ReturnType<typeof fakeGatewayContext>, channel: HostChannelRuntime, extra: Omit<HostServices, "hostChannel"> = {}) =>
  Effect.acquireRelease(
    Effect.sync(() => Channel.startAccount(gateway.ctx, { hostChannel: channel, ...extra })),
    (run) => Effect.suspend(() => {
      gateway.abort.abort()
      return stopped(run)
    })
  )

describe("plugin entry", () => {
  it("registers the instaclaw channel in the modes that ask for channels; the library entry carries no plugin", () => {
    const registered: Array<{ plugin: { id: string } }> = []
    for (const registrationMode of ["full", "discovery", "setup-only", "setup-runtime", "cli-metadata", "tool-discovery"]) {
      plugin.register({ registrationMode, runtime: {}, registerChannel: (r: any) => registered.push(r) } as never)
    }
    assert.strictEqual(registered.length, 4, "not for cli-metadata nor tool-discovery")
    for (const r of registered) assert.strictEqual(r.plugin, plugin.channelPlugin)
    assert.strictEqual(plugin.channelPlugin.id, "instaclaw")
    assert.notProperty(library, "default")
    assert.strictEqual(plugin.id, "insta-claw-connector")
  })

  it.live("the runtime OpenClaw hands the entry reaches the accounts it starts: its channel runtime, state directory and live config", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "instaclaw-state-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const { events, server } = yield* startServer
      const started = cfgFor(server.url, { systemPrompt: "AT-START" })
      const live = cfgFor(server.url, { systemPrompt: "LIVE" })
      const host = fakeRuntime(async ({ deliver }) => void (await deliver({ text: "ok" }, { kind: "final" })))
      const runtime = { channel: host.channel, state: { resolveStateDir: () => dir }, config: { current: () => live } }
      plugin.register({ registrationMode: "full", runtime, logger: { warn: () => {} }, registerChannel: () => {} } as never)
      const gateway = fakeGatewayContext(Channel.resolveAccount(started as never), started)
      const run = yield* Effect.acquireRelease(
        Effect.sync(() => plugin.channelPlugin.gateway!.startAccount!(gateway.ctx as never)),
        (running) => Effect.suspend(() => (gateway.abort.abort(), stopped(running)))
      )
      yield* waitFor(events, "ClientConnected")
      const { responseId } = yield* server.sendUserMessage({ conversationId: "conv_rt", text: "hello" })
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted")).text, "ok")
      assert.deepStrictEqual(host.contexts.map((c) => c.GroupSystemPrompt), ["LIVE"])
      gateway.abort.abort()
      yield* stopped(run)
      assert.strictEqual(readFileSync(join(dir, "plugins", "insta-claw-connector", "answered-default.txt"), "utf8"), `${responseId}\n`)
    }))

  it("openclaw.plugin.json is exactly what `npm run manifest` generates from the settings table", () => {
    const committed = readFileSync(new URL("../../openclaw.plugin.json", import.meta.url), "utf8")
    assert.strictEqual(committed, `${JSON.stringify(generatedManifest, null, 2)}\n`, "run `npm run manifest` and commit openclaw.plugin.json")
    const described = Object.keys(channelSchema.properties).filter((key) => key !== "accounts")
    assert.includeMembers(described, Object.keys(settings))
    for (const key of Object.keys(settings)) assert.isString((channelSchema.properties as any)[key].description, key)
  })

  it("package.json lists the setup fields of the setup contract, for `channels add --help`", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    assert.deepStrictEqual(pkg.openclaw.channel.setup.fields, JSON.parse(JSON.stringify(setupFieldsManifest)), "run `npm run manifest`")
  })

  it("openclaw.plugin.json carries the same channel schema and marks the secret sensitive", () => {
    const manifest = JSON.parse(readFileSync(new URL("../../openclaw.plugin.json", import.meta.url), "utf8"))
    assert.strictEqual(manifest.id, "insta-claw-connector")
    assert.strictEqual(manifest.id, JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).name)
    assert.deepStrictEqual(manifest.channels, ["instaclaw"])
    assert.deepStrictEqual(manifest.channelConfigs.instaclaw.schema, JSON.parse(JSON.stringify(channelSchema)))
    assert.deepStrictEqual(manifest.channelConfigs.instaclaw.uiHints, JSON.parse(JSON.stringify(uiHints)))
    assert.isTrue(manifest.channelConfigs.instaclaw.uiHints.clientSecret.sensitive)
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    assert.deepStrictEqual(pkg.openclaw.extensions, ["./dist/openclaw/index.js"])
    assert.strictEqual(pkg.exports["./openclaw"].default, "./dist/openclaw/index.js")
    assert.strictEqual(pkg.openclaw.channel.id, "instaclaw")
    assert.isTrue(pkg.peerDependenciesMeta.openclaw.optional)
  })

  it("declares direct and group chats with block streaming and media", () => {
    const channel = Channel.makeChannelPlugin()
    assert.deepStrictEqual(channel.capabilities, { chatTypes: ["direct", "group"], blockStreaming: true, media: true })
    assert.strictEqual(channel.meta.label, "InstaClaw")
    assert.strictEqual(channel.outbound?.deliveryMode, "gateway")
    assert.isFunction(channel.outbound?.sendMedia, "openclaw message send --media")
  })
})

describe("config adapter", () => {
  const cfg = {
    channels: {
      instaclaw: {
        clientId: "top",
        clientSecret: "top-secret",
        debug: true,
        accounts: { eu: { clientId: "eu-id", url: "wss://eu.example/user-ws/" }, off: { enabled: false } }
      }
    }
  } as never

  it("lists the default account and each named one", () => {
    assert.deepStrictEqual(Channel.listAccountIds(cfg), ["default", "eu", "off"])
  })

  it("named accounts inherit the top-level keys", () => {
    const eu = Channel.resolveAccount(cfg, "eu")
    const settings = Result.getOrThrow(Channel.resolveSettings(cfg, "eu").result)
    assert.deepStrictEqual([settings.clientId, settings.url, settings.debug], ["eu-id", "wss://eu.example/user-ws/", true])
    assert.isTrue(eu.enabled && eu.configured)
  })

  it("respects enabled: false and reports the config sentence as the unconfigured reason", () => {
    const channel = Channel.makeChannelPlugin()
    const off = Channel.resolveAccount(cfg, "off")
    assert.isFalse(channel.config.isEnabled!(off, cfg))
    const missing = Channel.resolveAccount({ channels: { instaclaw: { clientId: "x" } } } as never)
    assert.isFalse(missing.configured)
    assert.strictEqual(channel.config.unconfiguredReason!(missing, cfg), "Missing required configuration: clientSecret must be provided and non-empty")
    assert.deepStrictEqual(channel.config.describeAccount!(missing, cfg), { accountId: "default", enabled: true, configured: false })
    // The flag is read by the same schema as everywhere else: "no" and "0" are off too.
    for (const enabled of ["no", "0", "false", false]) {
      const account = Channel.resolveAccount({ channels: { instaclaw: { clientId: "x", clientSecret: "y", enabled } } } as never)
      assert.isFalse(account.enabled, String(enabled))
      assert.strictEqual(account.problem, "InstaClaw connector is not enabled in configuration")
    }
  })

  it("never puts the secret in what it describes", () => {
    const channel = Channel.makeChannelPlugin()
    const account = Channel.resolveAccount(cfg)
    assert.notInclude(JSON.stringify(channel.config.describeAccount!(account, cfg)), "top-secret")
    assert.notInclude(JSON.stringify(channel.config.inspectAccount!(cfg)), "top-secret")
    assert.notInclude(JSON.stringify(account), "top-secret")
    assert.deepStrictEqual(structuredClone(account), account, "plain data: survives the host's clone")
  })
})

describe("message targets", () => {
  it("normalises conversation ids so `openclaw message send --target` works", () => {
    assert.strictEqual(Channel.normalizeTarget(" conv_42 "), "conv_42")
    assert.strictEqual(Channel.normalizeTarget("instaclaw:conv_42"), "conv_42")
    assert.strictEqual(Channel.normalizeTarget("two words"), undefined)
    assert.strictEqual(Channel.normalizeTarget(""), undefined)
    const messaging = Channel.makeChannelPlugin().messaging!
    assert.isTrue(messaging.targetResolver!.looksLikeId!("conv_42"))
  })
})

describe("reply assembly from partials", () => {
  it("sends each partial's new text once; a second assistant message follows a blank line; the final repeats nothing", () => {
    const a = new DeliveryAssembler()
    a.messageStart()
    const pieces = [a.partial("Hel"), a.partial("Hello"), a.partial("Hello"), a.partial("Hello, world.")]
    a.messageStart() // after a tool call
    pieces.push(a.partial("Done"), a.partial("Done!"))
    pieces.push(a.next("block", "Hello, world."), a.next("block", "Done!"), a.next("final", "Hello, world.\n\nDone!"))
    assert.deepStrictEqual(pieces, ["Hel", "lo", undefined, ", world.", "\n\nDone", "!", undefined, undefined, undefined])
  })
})

describe("reply assembly from host deliveries", () => {
  it("joins blocks with a blank line, drops repeats and a final that repeats the blocks", () => {
    const a = new DeliveryAssembler()
    assert.deepStrictEqual(
      [a.next("block", "First."), a.next("block", "First."), a.next("tool", "ran a tool"), a.next("block", "Second."), a.next("final", "First.\n\nSecond.")],
      ["First.", undefined, undefined, "\n\nSecond.", undefined]
    )
    const b = new DeliveryAssembler()
    assert.deepStrictEqual([b.next("block", "Hello"), b.next("final", "Hello world")], ["Hello", " world"])
    assert.deepStrictEqual([new DeliveryAssembler().next("final", "  ")], [undefined])
  })
})

describe("gateway.startAccount", () => {
  it.live("a config error blocks the account with the sentence and stays pending until abort", () =>
    Effect.gen(function*() {
      const cfg = { channels: { instaclaw: { clientSecret: "s" } } }
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      let settled = false
      const run = (yield* runAccount(gateway, fakeRuntime(async () => {}).channel)).then(() => (settled = true))
      yield* gateway.until("the account blocked", (s) => s.lifecycle === "blocked")
      assert.strictEqual(gateway.status().lastError, "Missing required configuration: clientId must be provided and non-empty")
      yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
      assert.isFalse(settled, "no restart loop: still pending")
      gateway.abort.abort()
      yield* stopped(run)
      assert.strictEqual(gateway.status().lifecycle, "stopped")
    }))

  it.live("streams each host delivery out as one response; status follows; abort closes with 1000", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const cfg = cfgFor(server.url)
      const host = fakeRuntime(async ({ ctx, deliver }) => {
        await deliver({ text: `You said: ${ctx.Body}` }, { kind: "block" })
        await deliver({ text: "Anything else?" }, { kind: "block" })
        await deliver({ text: `You said: ${ctx.Body}\n\nAnything else?` }, { kind: "final" })
      })
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      const run = yield* runAccount(gateway, host.channel)
      yield* waitFor(events, "ClientConnected")
      yield* gateway.until("the account connected", (s) => s.connected === true)
      assert.strictEqual(gateway.status().lifecycle, "ready")

      yield* server.sendUserMessage({ conversationId: "conv_7", text: "hi there", senderId: "user_7", senderName: "Ada" })
      const deltas = yield* collect(events, "ReplyDelta", 2)
      assert.strictEqual(deltas[0]!.delta, "You said: hi there")
      const done = yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual([done.conversationId, done.text], ["conv_7", "You said: hi there\n\nAnything else?"])

      // One session per account and conversation, whatever the host's session.dmScope says.
      assert.deepStrictEqual(host.routes[0], { cfg, channel: "instaclaw", accountId: "default", peer: { kind: "direct", id: "conv_7" }, dmScope: "per-account-channel-peer" })
      // The context the SDK's builder made (the fake host's builder is the SDK's own).
      const inbound = host.contexts[0]!
      const fields = ["Body", "BodyForAgent", "RawBody", "CommandBody", "From", "To", "SessionKey", "AccountId", "ChatType", "SenderId", "SenderName", "Provider", "Surface", "OriginatingChannel", "OriginatingTo", "CommandAuthorized", "GroupSystemPrompt", "InboundEventKind"]
      assert.deepStrictEqual(Object.fromEntries(fields.map((key) => [key, inbound[key]])), {
        Body: "hi there",
        BodyForAgent: "hi there",
        RawBody: "hi there",
        CommandBody: "hi there",
        From: "instaclaw:user_7",
        To: "instaclaw:conv_7",
        SessionKey: "agent:main:instaclaw:direct:conv_7",
        AccountId: "default",
        ChatType: "direct",
        SenderId: "user_7",
        SenderName: "Ada",
        Provider: "instaclaw",
        Surface: "instaclaw",
        OriginatingChannel: "instaclaw",
        OriginatingTo: "conv_7",
        CommandAuthorized: true, // dmPolicy open: every sender's commands are authorized
        GroupSystemPrompt: "Answer in one line.",
        InboundEventKind: "user_request"
      })
      assert.match(String(inbound.MessageSid), /\S/)
      assert.isNumber(inbound.Timestamp)
      assert.isNumber(gateway.status().lastInboundAt)
      assert.isNumber(gateway.status().lastOutboundAt)

      gateway.abort.abort()
      yield* stopped(run)
      assert.strictEqual((yield* waitFor(events, "ClientDisconnected")).code, 1000)
      assert.deepStrictEqual([gateway.status().running, gateway.status().connected, gateway.status().lifecycle], [false, false, "stopped"])
      assert.notInclude(gateway.logs.join("\n"), "demo-secret")
      // OpenClaw stamps each line itself; ours say which account they are about.
      assert.include(gateway.logs, "[INFO] [InstaClawConnector] Connection established accountId=default")
    }))

  it.live("answered ids are kept in the plugin's state directory, one file per account", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "instaclaw-state-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const { events, server } = yield* startServer
      const cfg = cfgFor(server.url)
      const host = fakeRuntime(async ({ deliver }) => void (await deliver({ text: "ok" }, { kind: "final" })))
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      const run = yield* Effect.acquireRelease(
        Effect.sync(() => Channel.startAccount(gateway.ctx, { hostChannel: host.channel, stateDir: () => dir })),
        (running) => Effect.suspend(() => (gateway.abort.abort(), stopped(running)))
      )
      yield* waitFor(events, "ClientConnected")
      const { responseId } = yield* server.sendUserMessage({ conversationId: "conv_s", text: "remember me" })
      yield* waitFor(events, "ReplyCompleted")
      gateway.abort.abort()
      yield* stopped(run)
      assert.strictEqual(readFileSync(join(dir, "answered-default.txt"), "utf8"), `${responseId}\n`)
    }))

  it.live("sessionScope: \"host\" leaves the session to OpenClaw's session.dmScope", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const cfg = cfgFor(server.url, { sessionScope: "host" })
      const host = fakeRuntime(async ({ deliver }) => void (await deliver({ text: "ok" }, { kind: "final" })))
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      const run = yield* runAccount(gateway, host.channel)
      yield* waitFor(events, "ClientConnected")
      yield* server.sendUserMessage({ conversationId: "conv_h", text: "hi" })
      yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual(host.routes[0], { cfg, channel: "instaclaw", accountId: "default", peer: { kind: "direct", id: "conv_h" } })
      gateway.abort.abort()
      yield* stopped(run)
    }))

  it.live("partials stream out as the model writes them, before the host's dispatch ends", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const cfg = cfgFor(server.url)
      let releaseRun: () => void = () => {}
      const runHeld = new Promise<void>((resolve) => (releaseRun = resolve))
      const host = fakeRuntime(async ({ deliver, replyOptions }) => {
        await replyOptions.onAssistantMessageStart?.()
        await replyOptions.onPartialReply?.({ text: "Let me " })
        await replyOptions.onPartialReply?.({ text: "Let me check." })
        await runHeld // the model is still writing
        await replyOptions.onAssistantMessageStart?.()
        await replyOptions.onPartialReply?.({ text: "It is sunny." })
        await deliver({ text: "Let me check.\n\nIt is sunny." }, { kind: "final" })
      })
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      yield* runAccount(gateway, host.channel)
      yield* waitFor(events, "ClientConnected")
      yield* server.sendUserMessage({ conversationId: "conv_p", text: "weather?" })
      const early = yield* collect(events, "ReplyDelta", 2)
      assert.deepStrictEqual(early.map((e) => e.delta), ["Let me ", "check."], "sent while the run is still going")
      releaseRun()
      const done = yield* waitFor(events, "ReplyCompleted")
      assert.strictEqual(done.text, "Let me check.\n\nIt is sunny.", "the final repeated nothing")
    }))

  it.live("/stop mid-reply: the running reply ends with response.incomplete at once, and the host gets the /stop", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const cfg = cfgFor(server.url)
      let abortRun: () => void = () => {}
      const host = fakeRuntime(async ({ ctx, deliver, replyOptions }) => {
        if (ctx.Body === "/stop") {
          abortRun() // the host aborts the running run
          return void (await deliver({ text: "Agent was aborted." }, { kind: "final" }))
        }
        await replyOptions.onPartialReply?.({ text: "Working on it" })
        await new Promise<void>((resolve) => (abortRun = resolve))
        await replyOptions.onPartialReply?.({ text: "Working on it, more text that must not be sent" })
      })
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      yield* runAccount(gateway, host.channel)
      yield* waitFor(events, "ClientConnected")
      const { responseId: _running } = yield* server.sendUserMessage({ conversationId: "conv_stop", text: "write a long essay" })
      assert.strictEqual((yield* waitFor(events, "ReplyDelta")).delta, "Working on it")
      const from = (yield* server.subscribe)
      yield* server.sendUserMessage({ conversationId: "conv_stop", text: "/stop" })
      const frames: Array<{ responseId: string; type: string; status?: string; reason?: string }> = []
      yield* Effect.gen(function*() {
        while (!frames.some((f) => f.type === "response.completed")) {
          const event = yield* PubSub.take(from)
          if (event._tag !== "Frame") continue
          const data = JSON.parse(JSON.parse(event.json).data)
          frames.push({ responseId: data.response_id, type: data.type, status: data.response?.status, reason: data.response?.incomplete_details?.reason })
        }
      }).pipe(within("response.completed of the /stop reply", () => `; frames seen: ${JSON.stringify(frames)}`))
      const incomplete = frames.find((f) => f.type === "response.incomplete")!
      assert.deepStrictEqual(incomplete, { responseId: incomplete.responseId, type: "response.incomplete", status: "incomplete", reason: "stopped by the user" })
      const after = frames.slice(frames.indexOf(incomplete) + 1).filter((f) => f.responseId === incomplete.responseId)
      assert.deepStrictEqual(after, [], "nothing of the stopped reply after response.incomplete")
      assert.strictEqual((yield* waitFor(events, "ReplyCompleted", (e) => e.conversationId === "conv_stop")).text, "Agent was aborted.")
      assert.isTrue(host.contexts.find((c) => c.Body === "/stop")!.CommandAuthorized as boolean, "the /stop was authorized and reached the host")
    }))

  it.live("an account stop with no reply streaming waits for no grace period, closing with 1000", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      // An hour of grace: a stop that waited for it would never end within the bounded wait.
      const cfg = cfgFor(server.url, { shutdownGracePeriod: 3_600_000 })
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      const run = yield* runAccount(gateway, fakeRuntime(async () => {}).channel)
      yield* gateway.until("the account connected", (s) => s.connected === true)
      gateway.abort.abort()
      yield* stopped(run)
      assert.strictEqual(gateway.status().lifecycle, "stopped")
      assert.notMatch(gateway.logs.join("\n"), /Shutting down: waiting/, "no reply was running, so no grace period began")
      assert.strictEqual((yield* waitFor(events, "ClientDisconnected")).code, 1000)
    }))

  it.live("progressEvents: the host's reasoning and tool steps go out as reasoning / function_call items; off by default", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const host = fakeRuntime(async ({ deliver, replyOptions }) => {
        await replyOptions.onReasoningStream?.({ text: "Thinking about " })
        await replyOptions.onReasoningStream?.({ text: "Thinking about the weather" })
        await replyOptions.onToolStart?.({ name: "weather", toolCallId: "call_7", args: { city: "Oslo" } })
        await deliver({ text: "Sunny." }, { kind: "final" })
      })
      const typesFor = (extra: Record<string, unknown>, conversationId: string) =>
        Effect.gen(function*() {
          const cfg = cfgFor(server.url, extra)
          const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
          yield* runAccount(gateway, host.channel)
          yield* waitFor(events, "ClientConnected")
          const seen = yield* server.subscribe
          yield* server.sendUserMessage({ conversationId, text: "weather?" })
          const types: Array<string> = []
          return yield* Effect.gen(function*() {
            while (true) {
              const event = yield* PubSub.take(seen)
              if (event._tag === "Frame" && event.json.includes(`"conversationId":"${conversationId}"`)) {
                const data = JSON.parse(JSON.parse(event.json).data)
                types.push(data.type === "response.output_item.added" ? `added:${data.item.type}` : data.type)
              }
              if (event._tag === "ReplyCompleted" && event.conversationId === conversationId) return { types, text: event.text }
            }
          }).pipe(within(`ReplyCompleted for ${conversationId}`, () => `; frame types seen: ${types.join(", ")}`))
        }).pipe(Effect.scoped)
      const on = yield* typesFor({ progressEvents: true }, "conv_progress_on")
      assert.strictEqual(on.text, "Sunny.")
      assert.includeMembers(on.types, ["added:reasoning", "response.reasoning.delta", "response.reasoning.done", "added:function_call", "response.function_call_arguments.done", "added:message"])
      assert.isBelow(on.types.indexOf("added:function_call"), on.types.indexOf("added:message"))
      const off = yield* typesFor({}, "conv_progress_off")
      assert.strictEqual(off.text, "Sunny.")
      assert.deepStrictEqual(off.types.filter((t) => /reasoning|function_call/.test(t)), [])
    }))

  it.live("a dispatch failure, or an error payload, sends response.failed", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const cfg = cfgFor(server.url)
      const host = fakeRuntime(async ({ ctx, deliver }) => {
        if (ctx.Body === "boom") throw new Error("model crashed: demo-secret")
        await deliver({ text: "⚠️ The model is overloaded.", isError: true }, { kind: "final" })
      })
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      const run = yield* runAccount(gateway, host.channel)
      yield* waitFor(events, "ClientConnected")
      yield* server.sendUserMessage({ conversationId: "c", text: "boom" })
      const crashed = yield* waitFor(events, "ReplyFailed")
      assert.deepStrictEqual([crashed.code, crashed.message], ["dispatch_failed", "The assistant could not answer right now. Please try again."])
      yield* server.sendUserMessage({ conversationId: "c", text: "overloaded" })
      const overloaded = yield* waitFor(events, "ReplyFailed")
      assert.deepStrictEqual([overloaded.code, overloaded.message], ["agent_error", "⚠️ The model is overloaded."])
      gateway.abort.abort()
      yield* stopped(run)
      assert.notInclude(gateway.logs.join("\n"), "demo-secret")
      assert.include(gateway.logs.join("\n"), "model crashed")
    }))

  it.live("sendText: empty text refused, no connection refused, live connection delivers", () =>
    Effect.gen(function*() {
      const empty = yield* Effect.promise(() => Channel.sendText({ to: "conv_1", text: "  " }).then(() => "sent", (e: Error) => e.message))
      assert.strictEqual(empty, "Cannot send empty message")
      const down = yield* Effect.promise(() => Channel.sendText({ to: "conv_1", text: "hi", accountId: "nobody" }).then(() => "sent", (e: Error) => e.message))
      assert.strictEqual(down, "WebSocket is not connected")

      const { events, server } = yield* startServer
      const debugCfg = cfgFor(server.url, { debug: true })
      const gateway = fakeGatewayContext(Channel.resolveAccount(debugCfg as never), debugCfg)
      const run = yield* runAccount(gateway, fakeRuntime(async () => {}).channel)
      yield* gateway.until("the account connected", (s) => s.connected === true)
      const result = yield* Effect.promise(() => Channel.sendText({ to: "instaclaw:conv_out", text: "Proactive hello" }))
      assert.strictEqual(result.channel, "instaclaw")
      assert.match(result.messageId, /^resp_/)
      // The send ran in the account's context: its line reached the account's own logger.
      assert.match(gateway.logs.join("\n"), new RegExp(`\\[DEBUG\\] \\[InstaClawConnector\\] Sent ${result.messageId} to conv_out`))
      const done = yield* waitFor(events, "ReplyCompleted")
      assert.deepStrictEqual([done.conversationId, done.text, done.responseId], ["conv_out", "Proactive hello", result.messageId])
      gateway.abort.abort()
      yield* stopped(run)
    }))

  it.live("the same account started twice never has two sockets open", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const cfg = cfgFor(server.url)
      const host = fakeRuntime(async () => {})
      const first = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      const second = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      const runFirst = yield* runAccount(first, host.channel)
      yield* first.until("the first run connected", (s) => s.connected === true)
      const runSecond = yield* runAccount(second, host.channel)
      yield* second.until("the second run said it waits", (s) => typeof s.stateReason === "string")
      assert.strictEqual(yield* server.clientCount, 1, "the second waits")
      first.abort.abort()
      yield* stopped(runFirst)
      yield* second.until("the second run took over", (s) => s.connected === true)
      assert.strictEqual(yield* server.clientCount, 1, "then takes over")
      second.abort.abort()
      yield* stopped(runSecond)
      assert.strictEqual((yield* waitFor(events, "ClientDisconnected")).code, 1000)
    }))

  it.effect("the account table is one per process: a second copy of the plugin's modules sees the first's accounts", () =>
    Effect.gen(function*() {
      // OpenClaw can load the plugin twice (load paths and extensions dir): two module copies.
      const copy: typeof Accounts = yield* Effect.promise(() => import("../../src/openclaw/Accounts.ts?copy=2" as string))
      assert.notStrictEqual(copy, Accounts, "a separate module instance")
      const live = { context: Context.empty() as never }
      yield* Accounts.register("shared-account", live)
      assert.strictEqual(Option.getOrThrow(yield* copy.lookup("shared-account")), live)
      // And the slot: while this copy holds it, the other copy waits.
      yield* Accounts.claim("shared-account", Effect.void)
      let waited = false
      const other = yield* Effect.forkChild(Effect.scoped(copy.claim("shared-account", Effect.sync(() => (waited = true)))))
      yield* Effect.yieldNow
      assert.isTrue(waited)
      assert.isUndefined(other.pollUnsafe())
      yield* Fiber.interrupt(other)
    }))
})

describe("status that tells the truth", () => {
  const base = {
    state: "reconnecting" as const,
    reconnectAttempts: 4,
    nextRetryAt: Date.UTC(2026, 10, 25, 12, 0, 31),
    lastErrorAt: Date.UTC(2026, 10, 25, 12, 0, 1),
    lastConnectedAt: undefined,
    lastDisconnectedAt: undefined,
    lastInboundAt: undefined,
    lastOutboundAt: undefined,
    protocol: 1,
    features: []
  }

  it("a refused credential: the sentence, the attempts, the next retry, and a fix that is not a restart", () => {
    const snapshot = Channel.toSnapshot("eu", {
      ...base,
      lastError: "InstaClaw rejected the credentials (HTTP 401 on upgrade): check clientId/clientSecret",
      lastErrorKind: "AuthenticationError"
    })
    assert.strictEqual(snapshot.lastError, "InstaClaw rejected the credentials (HTTP 401 on upgrade): check clientId/clientSecret")
    assert.strictEqual(snapshot.reconnectAttempts, 4)
    assert.strictEqual(snapshot.nextRetryAt, base.nextRetryAt)
    assert.deepStrictEqual(snapshot.lastDisconnect, { at: base.lastErrorAt, error: "InstaClaw rejected the credentials (HTTP 401 on upgrade): check clientId/clientSecret" })
    const issues = Channel.collectStatusIssues([snapshot as Record<string, unknown>])
    assert.deepStrictEqual(issues.map((issue) => [issue.kind, issue.accountId, issue.message]), [["auth", "eu", snapshot.lastError]])
    assert.match(issues[0]!.fix, /check clientId\/clientSecret .*no restart needed/)
  })

  it("a server that is down: a runtime issue that says the connector reconnects by itself", () => {
    const snapshot = Channel.toSnapshot("default", { ...base, lastError: "Could not open the WebSocket", lastErrorKind: "OpenFailed" })
    const [issue] = Channel.collectStatusIssues([snapshot as Record<string, unknown>])
    assert.strictEqual(issue!.kind, "runtime")
    assert.strictEqual(issue!.message, "Reconnecting: Could not open the WebSocket")
    assert.include(issue!.fix, "reconnects by itself (attempt 4 at 2026-11-25T12:00:31.000Z)")
    assert.notMatch(issue!.fix, /restart/)
  })

  it("connected: no issue, no stale error; what the link agreed on with the server", () => {
    const snapshot = Channel.toSnapshot("default", {
      ...base,
      state: "connected",
      lastError: "Could not open the WebSocket",
      lastErrorKind: "OpenFailed",
      protocol: 2,
      features: ["ack"]
    })
    assert.strictEqual(snapshot.lastError, null)
    assert.deepStrictEqual([snapshot.protocol, snapshot.features], [2, ["ack"]])
    assert.deepStrictEqual(Channel.collectStatusIssues([snapshot as Record<string, unknown>]), [])
  })

  it.live("probeAccount checks the credentials with a real upgrade", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const good = cfgFor(server.url)
      const ok = yield* Effect.promise(() => Channel.probeAccount({ cfg: good as never, account: Channel.resolveAccount(good as never), timeoutMs: 5000 }))
      assert.deepStrictEqual(ok, { ok: true })
      assert.strictEqual((yield* waitFor(events, "ClientDisconnected")).code, 1000, "the probe closes what it opened")
      const bad = cfgFor(server.url, { clientSecret: "wrong" })
      const refused = yield* Effect.promise(() => Channel.probeAccount({ cfg: bad as never, account: Channel.resolveAccount(bad as never), timeoutMs: 5000 }))
      assert.deepStrictEqual(refused, { ok: false, kind: "AuthenticationError", error: "InstaClaw rejected the credentials (HTTP 401 on upgrade): check clientId/clientSecret" })
    }))

  it("register warns once about an account whose settings cannot be used", () => {
    const warnings: Array<string> = []
    const api = (registrationMode: string) => ({
      registrationMode,
      runtime: {},
      config: { channels: { instaclaw: { clientId: "x", accounts: { eu: { clientSecret: "s" }, off: { enabled: false } } } } },
      logger: { warn: (line: string) => warnings.push(line), info: () => {}, error: () => {} },
      registerChannel: () => {}
    })
    plugin.register(api("setup-only") as never)
    assert.deepStrictEqual(warnings, [], "only when the gateway really loads the plugin")
    plugin.register(api("full") as never)
    assert.deepStrictEqual(warnings, ["[InstaClawConnector] account default: Missing required configuration: clientSecret must be provided and non-empty"])
  })
})

describe("who may talk to the agent", () => {
  /** Runs an account with `access` settings; `say` sends a message and returns the server's answer. */
  const withAccount = <A>(access: Record<string, unknown>, body: (say: (senderId: string, text: string) => Effect.Effect<ServerAnswer>, host: ReturnType<typeof fakeRuntime>, logs: () => string) => Effect.Effect<A>) =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      const cfg = cfgFor(server.url, access)
      const host = fakeRuntime(async ({ ctx, deliver }) => void (await deliver({ text: `agent: ${ctx.Body}` }, { kind: "final" })))
      const gateway = fakeGatewayContext(Channel.resolveAccount(cfg as never), cfg)
      yield* runAccount(gateway, host.channel)
      yield* waitFor(events, "ClientConnected")
      let n = 0
      const say = (senderId: string, text: string) =>
        Effect.gen(function*() {
          const conversationId = `conv_${senderId}_${n++}`
          yield* Effect.orDie(server.sendUserMessage({ conversationId, text, senderId }))
          // One reader of the subscription for both outcomes: two racing readers would each
          // take (and drop) events the other waits for.
          const end = yield* Effect.gen(function*() {
            while (true) {
              const event = yield* PubSub.take(events)
              if ((event._tag === "ReplyCompleted" || event._tag === "ReplyFailed") && event.conversationId === conversationId) return event
            }
          }).pipe(within(`the reply in ${conversationId} at the reference server`))
          return end._tag === "ReplyCompleted" ? { text: end.text } : { failed: end.code, message: end.message } satisfies ServerAnswer
        })
      return yield* body(say, host, () => gateway.logs.join("\n"))
    }).pipe(Effect.scoped)

  it.live("allowlist: a listed sender reaches the agent; another gets access_denied, and nothing reaches the model", () =>
    withAccount({ dmPolicy: "allowlist", allowFrom: ["user_ok"] }, (say, host, logs) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* say("user_ok", "hello"), { text: "agent: hello" })
        assert.deepStrictEqual(yield* say("user_no", "let me in"), { failed: "access_denied", message: "This assistant is not available to you." })
        assert.deepStrictEqual(host.contexts.map((c) => c.Body), ["hello"], "the refused text never reached the host")
        assert.match(logs(), /\[WARN\] \[InstaClawConnector\] Refused a message from sender user_no \(dm_policy_not_allowlisted\)/)
      })))

  it.live("pairing: a new sender gets a code; once the operator approves, the next message goes through", () =>
    withAccount({ dmPolicy: "pairing", allowFrom: [] }, (say, host) =>
      Effect.gen(function*() {
        const first = yield* say("user_new", "hi")
        assert.include(first.text, "PAIR1")
        assert.include(first.text, "Your InstaClaw user id: user_new")
        assert.deepStrictEqual(host.contexts, [], "nothing reached the agent")
        host.approved.add("user_new")
        assert.deepStrictEqual(yield* say("user_new", "now?"), { text: "agent: now?" })
      })))

  it.live("disabled: nobody; open: everybody, and commands are authorized", () =>
    Effect.gen(function*() {
      yield* withAccount({ dmPolicy: "disabled" }, (say) =>
        Effect.gen(function*() {
          assert.strictEqual((yield* say("anyone", "hi")).failed, "access_denied")
        }))
      yield* withAccount({}, (say, host) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* say("anyone", "/stop"), { text: "agent: /stop" })
          assert.strictEqual(host.contexts[0]!.CommandAuthorized, true)
        }))
    }))
})

interface ServerAnswer {
  readonly text?: string
  readonly failed?: string
  readonly message?: string
}

describe("live config", () => {
  it("the live keys need no restart: noop reload prefixes, for the section and every account", () => {
    const reload = Channel.makeChannelPlugin().reload!
    assert.includeMembers([...reload.noopPrefixes!], [
      "channels.instaclaw.systemPrompt",
      "channels.instaclaw.accounts.*.systemPrompt",
      "channels.instaclaw.dmPolicy",
      "channels.instaclaw.allowFrom",
      "channels.instaclaw.sessionScope"
    ])
    assert.deepStrictEqual(reload.configPrefixes, ["channels.instaclaw"])
  })

  it.live("systemPrompt, access and session routing follow the current config at the next message", () =>
    Effect.gen(function*() {
      const { events, server } = yield* startServer
      let current = cfgFor(server.url, { systemPrompt: "FIRST-PROMPT" })
      const host = fakeRuntime(async ({ ctx, deliver }) => void (await deliver({ text: `agent: ${ctx.Body}` }, { kind: "final" })))
      const gateway = fakeGatewayContext(Channel.resolveAccount(current as never), current)
      yield* runAccount(gateway, host.channel, { liveConfig: () => current as never })
      yield* waitFor(events, "ClientConnected")
      yield* server.sendUserMessage({ conversationId: "conv_l", text: "one", senderId: "user_l" })
      yield* waitFor(events, "ReplyCompleted")
      current = cfgFor(server.url, { systemPrompt: "SECOND-PROMPT", sessionScope: "host" })
      yield* server.sendUserMessage({ conversationId: "conv_l", text: "two", senderId: "user_l" })
      yield* waitFor(events, "ReplyCompleted")
      current = cfgFor(server.url, { dmPolicy: "allowlist", allowFrom: ["someone_else"] })
      yield* server.sendUserMessage({ conversationId: "conv_l", text: "three", senderId: "user_l" })
      assert.strictEqual((yield* waitFor(events, "ReplyFailed")).code, "access_denied")
      assert.deepStrictEqual(host.contexts.map((c) => c.GroupSystemPrompt), ["FIRST-PROMPT", "SECOND-PROMPT"])
      // The refused third message was routed too: access is decided for the route it would take.
      assert.deepStrictEqual(host.routes.map((r) => (r as { dmScope?: string }).dmScope), ["per-account-channel-peer", undefined, "per-account-channel-peer"])
      assert.strictEqual(yield* server.clientCount, 1, "no reconnect for any of it")
    }))
})

describe("setup and secret references", () => {
  it("channels add: flags become the account's keys; a secret from env or file becomes a reference", () => {
    const cfg = applySetup({} as never, "default", { clientId: "my-app", clientSecretEnv: "INSTACLAW_SECRET", url: "wss://chat.example/user-ws/" })
    assert.deepStrictEqual((cfg as any).channels.instaclaw, {
      clientId: "my-app",
      clientSecret: { source: "env", provider: "default", id: "INSTACLAW_SECRET" },
      url: "wss://chat.example/user-ws/"
    })
    const withEu = applySetup(cfg, "eu", { clientId: "eu-app", clientSecretFile: "/run/secrets/eu" })
    assert.deepStrictEqual((withEu as any).channels.instaclaw.accounts.eu, { clientId: "eu-app", clientSecret: { source: "file", provider: "default", id: "/run/secrets/eu" } })
    assert.strictEqual((withEu as any).channels.instaclaw.clientId, "my-app", "the default account is left alone")
    assert.isTrue(Channel.resolveAccount(withEu, "eu").configured, "a reference counts as a secret")
  })

  it("channels add: refused with the startup sentences", () => {
    assert.strictEqual(validateSetup({} as never, "default", { clientSecret: "s" }), "Missing required configuration: clientId must be provided and non-empty")
    assert.match(validateSetup({} as never, "default", { clientId: "a", clientSecret: "s", url: "ws://example.com/" })!, /^Invalid configuration: url must be a wss:\/\/ URL/)
    assert.isNull(validateSetup({} as never, "default", { clientId: "a", clientSecretEnv: "X" }))
  })

  it.effect("a secret reference is resolved through OpenClaw's providers when the account starts", () =>
    Effect.gen(function*() {
      const cfg = { channels: { instaclaw: { clientId: "a", clientSecret: { source: "env", provider: "default", id: "INSTACLAW_TEST_SECRET_7" } } } }
      process.env.INSTACLAW_TEST_SECRET_7 = "from-the-environment"
      yield* Effect.addFinalizer(() => Effect.sync(() => delete process.env.INSTACLAW_TEST_SECRET_7))
      const resolved = yield* settingsFor(cfg as never, "default")
      assert.strictEqual(Redacted.value(Result.getOrThrow(resolved).clientSecret), "from-the-environment")
      delete process.env.INSTACLAW_TEST_SECRET_7
      const missing = yield* settingsFor(cfg as never, "default")
      assert.isTrue(Result.isFailure(missing))
      assert.match(Result.isFailure(missing) ? missing.failure : "", /^Invalid configuration: clientSecret refers to env "INSTACLAW_TEST_SECRET_7", which could not be read/)
    }))
})

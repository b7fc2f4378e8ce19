/**
 * The OpenClaw `ChannelPlugin` for InstaClaw: account config, status, message targets, outbound
 * `sendText`, and the gateway lifecycle that runs the connector for each account.
 *
 * `gateway.startAccount` builds the connector layers from the account's config, runs them with
 * the OpenClaw agent until `ctx.abortSignal` fires — the promise stays pending until then — and
 * mirrors the connection into `ctx.setStatus`. A config error marks the account `blocked` with
 * the sentence as `lastError`, and still waits for the abort (no restart loop).
 *
 * Gotchas: the plugin may be loaded twice (from `plugins.load.paths` and the extensions dir), and
 * the host may start an account again before the old run has closed. One process-wide table of
 * live accounts (keyed by account id, shared through `Symbol.for`) makes sure only one socket per
 * account is ever open: a second run waits until the first has closed.
 *
 * @since 0.1.0
 */
import { Cause, Deferred, Effect, Exit, Layer, Redacted, Result, Stream } from "effect"
import type { ChannelPlugin, OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import { Agent } from "../Agent.ts"
import { channelSchema, uiHints } from "./ChannelSchema.ts"
import { type ConfigError, ConnectorConfig, type ConnectorSettings, decodeSettings, environmentOverrides, isEnabled } from "../Config.ts"
import { Connection, WebSocketDialer } from "../Connection.ts"
import { Connector, type ConnectorStatus, type SentReply } from "../Connector.ts"
import * as InstaClaw from "../InstaClaw.ts"
import { LogSink, type LogSinkShape, scrub, stderrSink } from "../Logger.ts"
import * as OpenClawAgent from "./OpenClawAgent.ts"
import { EmptyMessageError } from "../Protocol.ts"

export const CHANNEL_ID = OpenClawAgent.CHANNEL_ID
export const DEFAULT_ACCOUNT_ID = "default"

/**
 * One account of `channels.instaclaw`, resolved. Plain data on purpose: the host clones it, so it
 * carries no secret and no class instance. Never throws on bad config: see `problem`.
 */
export interface InstaClawAccount {
  readonly accountId: string
  readonly name: string | undefined
  readonly enabled: boolean
  readonly configured: boolean
  /** The sentence that says what to fix, when the settings are not valid. */
  readonly problem: string | undefined
}

type Section = Record<string, unknown> & { readonly accounts?: Record<string, Record<string, unknown>> }

const sectionOf = (cfg: OpenClawConfig): Section =>
  ((cfg as { readonly channels?: Record<string, unknown> }).channels?.[CHANNEL_ID] ?? {}) as Section

/** Account ids: `default` for the top-level settings, plus each key of `accounts`. */
export const listAccountIds = (cfg: OpenClawConfig): Array<string> => [
  DEFAULT_ACCOUNT_ID,
  ...Object.keys(sectionOf(cfg).accounts ?? {}).filter((id) => id !== DEFAULT_ACCOUNT_ID)
]

/**
 * Resolves one account: the top-level keys, overridden by `accounts.<id>`. `INSTACLAW_*`
 * environment variables override the default account (environment wins).
 */
export const resolveAccount = (cfg: OpenClawConfig, accountId?: string | null): InstaClawAccount => {
  const { id, name, settings } = resolveSettings(cfg, accountId)
  return {
    accountId: id,
    name,
    enabled: settings.enabled,
    configured: Result.isSuccess(settings.result),
    problem: Result.isFailure(settings.result) ? settings.result.failure.message : undefined
  }
}

/** The account's validated settings (with the secret), read fresh from the config. */
export const resolveSettings = (cfg: OpenClawConfig, accountId?: string | null) => {
  const id = accountId ?? DEFAULT_ACCOUNT_ID
  const { accounts, streaming: _streaming, name: _name, ...topLevel } = sectionOf(cfg)
  const own = id === DEFAULT_ACCOUNT_ID ? {} : (accounts?.[id] ?? {})
  const { name: ownName, streaming: _ownStreaming, ...ownSettings } = own
  const overrides = id === DEFAULT_ACCOUNT_ID ? Effect.runSync(environmentOverrides) : {}
  const input = { ...topLevel, ...ownSettings, ...overrides }
  const result: Result.Result<ConnectorSettings, ConfigError> = decodeSettings(input)
  const enabled = isEnabled(input)
  const name = typeof ownName === "string" ? ownName : typeof sectionOf(cfg).name === "string" ? (sectionOf(cfg).name as string) : undefined
  return { id, name, settings: { enabled, result } }
}

/** A conversation id from a target such as `instaclaw:conv_42` or `conv_42`. */
export const normalizeTarget = (raw: string): string | undefined => {
  const id = raw.trim().replace(/^instaclaw:/i, "").trim()
  return id === "" || /\s/.test(id) ? undefined : id
}

// ---------------------------------------------------------------------------------------------
// Live accounts: one connector per account id in this process.
// ---------------------------------------------------------------------------------------------

interface LiveAccount {
  readonly send: (conversationId: string, text: string) => Promise<SentReply>
  /** Resolves once this account's socket has closed. */
  readonly closed: Promise<void>
}

const LIVE = Symbol.for("insta-claw-connector/live-accounts")

/** The process-wide table of running accounts (see the module's Gotchas). */
const liveAccounts = (): Map<string, LiveAccount> =>
  ((globalThis as Record<symbol, unknown>)[LIVE] ??= new Map<string, LiveAccount>()) as Map<string, LiveAccount>

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

type Snapshot = Parameters<NonNullable<NonNullable<ChannelPlugin["gateway"]>["startAccount"]>>[0] extends infer C
  ? C extends { readonly setStatus: (next: infer S) => void } ? S : never
  : never

/** The OpenClaw status snapshot for a connector status. */
export const toSnapshot = (accountId: string, status: ConnectorStatus): Partial<Snapshot> => ({
  accountId,
  running: status.state !== "disconnected",
  connected: status.state === "connected",
  lifecycle: status.state === "connected"
    ? "ready"
    : status.state === "reconnecting"
    ? "recovering"
    : status.state === "connecting"
    ? "starting"
    : "stopped",
  reconnectAttempts: status.reconnectAttempts,
  lastError: status.lastError ?? null,
  lastInboundAt: status.lastInboundAt ?? null,
  lastOutboundAt: status.lastOutboundAt ?? null
})

// ---------------------------------------------------------------------------------------------
// The gateway: run one account until the host aborts it.
// ---------------------------------------------------------------------------------------------

export interface StartAccountContext {
  readonly cfg: OpenClawConfig
  readonly accountId: string
  readonly account: InstaClawAccount
  readonly abortSignal: AbortSignal
  readonly log?: LogSinkShape | undefined
  readonly getStatus: () => Record<string, unknown>
  readonly setStatus: (next: any) => void
  readonly channelRuntime?: unknown
}

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    signal.addEventListener("abort", () => resolve(), { once: true })
  })

/**
 * Runs the connector for one account until `ctx.abortSignal` fires, then closes it cleanly.
 * `hostChannel` is OpenClaw's `runtime.channel`, when `ctx.channelRuntime` does not carry it.
 */
export const startAccount = async (ctx: StartAccountContext, hostChannel?: OpenClawAgent.HostChannelRuntime): Promise<void> => {
  try {
    await runAccount(ctx, hostChannel)
  } catch (error) {
    // Anything unexpected: report it and wait for the abort, so the host does not restart-loop.
    const reason = `The InstaClaw connector failed to start: ${error instanceof Error ? error.message : String(error)}`
    ;(ctx.log ?? stderrSink).error(`[InstaClawConnector] ${reason}`)
    ctx.setStatus({ ...ctx.getStatus(), accountId: ctx.accountId, running: false, connected: false, lifecycle: "blocked", lastError: reason })
    await aborted(ctx.abortSignal)
  }
}

const runAccount = async (ctx: StartAccountContext, hostChannel?: OpenClawAgent.HostChannelRuntime): Promise<void> => {
  const sink = ctx.log ?? stderrSink
  const update = (patch: Record<string, unknown>) => ctx.setStatus({ ...ctx.getStatus(), accountId: ctx.accountId, ...patch })
  update({ running: true, connected: false, lifecycle: "starting", lastStartAt: Date.now(), lastError: null })

  const block = async (reason: string) => {
    sink.error(`[InstaClawConnector] ${reason}`)
    update({ running: false, connected: false, lifecycle: "blocked", lastError: reason })
    await aborted(ctx.abortSignal)
    update({ lifecycle: "stopped", lastStopAt: Date.now() })
  }

  // Read fresh from the config: `ctx.account` is the host's copy and holds no secret.
  const settings = resolveSettings(ctx.cfg, ctx.accountId).settings.result
  if (Result.isFailure(settings)) return block(settings.failure.message)
  const channel = (ctx.channelRuntime as OpenClawAgent.HostChannelRuntime | undefined) ?? hostChannel
  if (channel?.reply?.dispatchReplyWithBufferedBlockDispatcher === undefined) {
    return block("OpenClaw did not provide a channel runtime to this plugin; update OpenClaw")
  }

  // One socket per account: wait for a previous run of this account to close first.
  const previous = liveAccounts().get(ctx.accountId)
  if (previous !== undefined) {
    update({ stateReason: "waiting for the previous connection of this account to close" })
    await Promise.race([previous.closed, aborted(ctx.abortSignal)])
    if (ctx.abortSignal.aborted) return update({ running: false, lifecycle: "stopped", lastStopAt: Date.now() })
  }

  const secret = Redacted.value(settings.success.clientSecret)
  const layer = InstaClaw.layerWithConfig.pipe(
    Layer.provide(Layer.succeed(Agent, OpenClawAgent.make({ channel, cfg: ctx.cfg, accountId: ctx.accountId }))),
    Layer.provide(WebSocketDialer.layer),
    Layer.provideMerge(Layer.succeed(ConnectorConfig, settings.success)),
    Layer.provide(Layer.succeed(LogSink, sink))
  )

  let markClosed = () => {}
  const closed = new Promise<void>((resolve) => (markClosed = resolve))
  const program = Effect.gen(function*() {
    const connector = yield* Connector
    const connection = yield* Connection
    const live: LiveAccount = {
      send: (conversationId, text) => Effect.runPromise(connector.send(conversationId, text)),
      closed
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => liveAccounts().set(ctx.accountId, live)),
      () => Effect.sync(() => {
        if (liveAccounts().get(ctx.accountId) === live) liveAccounts().delete(ctx.accountId)
      })
    )
    const fatal = yield* Deferred.make<string>()
    yield* Effect.forkScoped(Effect.catch(connection.awaitFatal, (error) => Deferred.succeed(fatal, error.message)))
    yield* Stream.runForEach(connector.statusChanges, (status) => Effect.sync(() => update(toSnapshot(ctx.accountId, status)))).pipe(
      Effect.raceFirst(Deferred.await(fatal).pipe(Effect.flatMap((reason) => Effect.sync(() => update({ lifecycle: "blocked", lastError: reason }))), Effect.andThen(Effect.never)))
    )
  }).pipe(Effect.scoped, Effect.provide(layer))

  const exit = await Effect.runPromiseExit(program, { signal: ctx.abortSignal })
  markClosed()
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
    sink.error(scrub(`[InstaClawConnector] The connector stopped: ${Cause.pretty(exit.cause)}`, [secret]))
  }
  update({ running: false, connected: false, lifecycle: "stopped", lastStopAt: Date.now() })
}

/** `outbound.sendText`: one streamed response to conversation `to` on the account's live socket. */
export const sendText = async (ctx: { readonly to: string; readonly text: string; readonly accountId?: string | null | undefined }) => {
  if (ctx.text.trim() === "") throw new Error(new EmptyMessageError().message)
  const conversationId = normalizeTarget(ctx.to)
  if (conversationId === undefined) throw new Error(`Not an InstaClaw conversation id: ${JSON.stringify(ctx.to)}`)
  const live = liveAccounts().get(ctx.accountId ?? DEFAULT_ACCOUNT_ID)
  if (live === undefined) throw new Error("WebSocket is not connected")
  const sent = await live.send(conversationId, ctx.text)
  return { channel: CHANNEL_ID, messageId: sent.responseId, target: { kind: "conversation" as const, id: conversationId } }
}

/** The channel plugin. `hostChannel` is OpenClaw's `api.runtime.channel`, kept by the entry. */
export const makeChannelPlugin = (hostChannel?: OpenClawAgent.HostChannelRuntime): ChannelPlugin<InstaClawAccount> => ({
  id: CHANNEL_ID,
  meta: {
    id: CHANNEL_ID,
    label: "InstaClaw",
    selectionLabel: "InstaClaw (WebSocket, Open Responses)",
    docsPath: "/channels/instaclaw",
    blurb: "Direct chats from an InstaClaw service over one authenticated WebSocket, replies streamed as Open Responses events."
  },
  capabilities: { chatTypes: ["direct"], blockStreaming: true },
  reload: { configPrefixes: [`channels.${CHANNEL_ID}`] },
  configSchema: { schema: channelSchema as never, uiHints },
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
    defaultRuntime: { accountId: DEFAULT_ACCOUNT_ID, running: false, connected: false, lifecycle: "stopped" }
  },
  gateway: {
    startAccount: (ctx) => startAccount(ctx as unknown as StartAccountContext, hostChannel)
  },
  outbound: {
    deliveryMode: "gateway",
    sendText: (ctx) => sendText(ctx)
  }
})

/**
 * The gateway side of the plugin: each account runs as one Effect program, from
 * `gateway.startAccount` until the host's `abortSignal` fires, and `outbound.sendText` sends
 * through the running account.
 *
 * Each account's program runs with the account's own logger — the host's `ctx.log`, its `debug`
 * level, its secret scrubbed — and `sendText` runs in the account's captured context, so every
 * line, sends included, goes through that logger. Promises appear only at the two host boundary
 * functions, `startAccount` and `sendText`.
 *
 * Gotchas: the promise from `startAccount` must stay pending until the abort — if it settles,
 * OpenClaw counts the channel as exited and restarts it. A config error therefore marks the
 * account `blocked` with the sentence as `lastError`, and waits.
 *
 * @since 0.1.0
 */
import { join } from "node:path"
import { Cause, Clock, type Context, Effect, Layer, Option, Result, Schema, Stream } from "effect"
import type { ChannelPlugin, OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import { getSessionEntry, resolveConfiguredSecretInputString } from "openclaw/plugin-sdk/config-runtime"
import { Agent } from "../Agent.ts"
import { ConnectorConfig, type ConnectorSettings } from "../Config.ts"
import { Connection, notConnected, probe, WebSocketDialer } from "../Connection.ts"
import { Connector, type ConnectorStatus } from "../Connector.ts"
import * as DedupeStore from "../DedupeStore.ts"
import * as InstaClaw from "../InstaClaw.ts"
import * as InstaLogger from "../Logger.ts"
import { EmptyMessageError } from "../Protocol.ts"
import { DEFAULT_ACCOUNT_ID, type InstaClawAccount, normalizeTarget, resolveSettings } from "./Account.ts"
import * as Accounts from "./Accounts.ts"
import { CHANNEL_ID } from "./ChannelSchema.ts"
import * as Media from "./Media.ts"
import * as OpenClawAgent from "./OpenClawAgent.ts"

export interface StartAccountContext {
  readonly cfg: OpenClawConfig
  readonly accountId: string
  readonly account: InstaClawAccount
  readonly abortSignal: AbortSignal
  readonly log?: InstaLogger.LogSinkShape | undefined
  readonly getStatus: () => Record<string, unknown>
  readonly setStatus: (next: any) => void
  readonly channelRuntime?: unknown
}

type Snapshot = Parameters<NonNullable<NonNullable<ChannelPlugin["gateway"]>["startAccount"]>>[0] extends infer C
  ? C extends { readonly setStatus: (next: infer S) => void } ? S : never
  : never

/**
 * The OpenClaw status snapshot for a connector status.
 *
 * Gotchas: OpenClaw's health check calls an account "disconnected" — advice "restart the channel
 * or gateway", and its health monitor may act on it — unless `lastDisconnect.at` is recent. While
 * the connector is reconnecting, each failed attempt is that latest disconnect: it says the
 * plugin is at work, and `collectStatusIssues` says what the operator can do.
 */
export const toSnapshot = (
  accountId: string,
  status: ConnectorStatus
): Partial<Snapshot> & { readonly nextRetryAt?: number; readonly protocol: number; readonly features: ReadonlyArray<string> } => ({
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
  lastError: status.state === "connected" ? null : (status.lastError ?? null),
  lastConnectedAt: status.lastConnectedAt ?? null,
  ...(status.lastErrorAt === undefined || status.lastError === undefined
    ? {}
    : { lastDisconnect: { at: status.lastErrorAt, error: status.lastError } }),
  statusState: status.state === "connected" || status.lastErrorKind === undefined ? status.state : errorStates[status.lastErrorKind] ?? status.state,
  // OpenClaw rebuilds `stateReason` of a running account itself; a field of our own survives.
  ...(status.state === "reconnecting" && status.nextRetryAt !== undefined ? { nextRetryAt: status.nextRetryAt } : {}),
  lastInboundAt: status.lastInboundAt ?? null,
  lastOutboundAt: status.lastOutboundAt ?? null,
  // What the link agreed on with the server (docs/PROTOCOL.md §6): fields of our own, like `nextRetryAt`.
  protocol: status.protocol,
  features: status.features
})

/** `statusState` while a failure kind holds the account back; `collectStatusIssues` reads it. */
const errorStates: Partial<Record<NonNullable<ConnectorStatus["lastErrorKind"]>, string>> = {
  AuthenticationError: "credentials-rejected",
  OpenFailed: "unreachable",
  OpenTimeout: "unreachable",
  ReconnectAttemptsExhausted: "gave-up"
}

/** What `openclaw channels status` lists under the account, with the fix — never a restart for what heals itself. */
export interface StatusIssue {
  readonly channel: string
  readonly accountId: string
  readonly kind: "auth" | "runtime"
  readonly message: string
  readonly fix: string
}

export const collectStatusIssues = (accounts: ReadonlyArray<Record<string, unknown>>): Array<StatusIssue> =>
  accounts.flatMap((account): Array<StatusIssue> => {
    const accountId = typeof account.accountId === "string" ? account.accountId : DEFAULT_ACCOUNT_ID
    const message = typeof account.lastError === "string" ? account.lastError : undefined
    if (message === undefined || account.connected === true) return []
    switch (account.statusState) {
      case "credentials-rejected":
        return [{
          channel: CHANNEL_ID,
          accountId,
          kind: "auth",
          message,
          fix: `check clientId/clientSecret of channels.${CHANNEL_ID} (account ${accountId}); the connector retries every ~30 s by itself, no restart needed`
        }]
      case "unreachable":
      case "reconnecting":
        return [{
          channel: CHANNEL_ID,
          accountId,
          kind: "runtime",
          message: `Reconnecting: ${message}`,
          fix: `check that the InstaClaw server is reachable at the account's url; the connector reconnects by itself${nextAttempt(account)}`
        }]
      default:
        return []
    }
  })

const nextAttempt = (account: Record<string, unknown>): string =>
  typeof account.nextRetryAt === "number"
    ? ` (attempt ${typeof account.reconnectAttempts === "number" ? account.reconnectAttempts : "?"} at ${new Date(account.nextRetryAt).toISOString()})`
    : ""

/** What `probeAccount` found: a real upgrade with the account's settings. */
export interface ProbeResult {
  readonly ok: boolean
  readonly error?: string
  readonly kind?: string
}

/** Host boundary, `status.probeAccount`: one real upgrade with the account's settings, closed with 1000. */
export const probeAccount = (params: { readonly cfg: OpenClawConfig; readonly account: InstaClawAccount; readonly timeoutMs: number }): Promise<ProbeResult> =>
  Effect.runPromise(Effect.flatMap(settingsFor(params.cfg, params.account.accountId), (resolved) => {
    if (Result.isFailure(resolved)) return Effect.succeed<ProbeResult>({ ok: false, error: resolved.failure, kind: "config" })
    const settings = { ...resolved.success, connectTimeout: Math.max(1, Math.min(params.timeoutMs, resolved.success.connectTimeout)) }
    return probe.pipe(
      Effect.as<ProbeResult>({ ok: true }),
      Effect.catchTag("ConnectionError", (error) => Effect.succeed<ProbeResult>({ ok: false, error: error.message, kind: error.reason._tag })),
      Effect.provideService(ConnectorConfig, settings),
      Effect.provide(WebSocketDialer.layer)
    )
  }))

/** What the plugin entry kept of OpenClaw's runtime. */
export interface HostServices {
  /** OpenClaw's `runtime.channel`, when `ctx.channelRuntime` lacks it. */
  readonly hostChannel?: OpenClawAgent.HostChannelRuntime | undefined
  /** The plugin's folder in OpenClaw's state directory. */
  readonly stateDir?: (() => string) | undefined
  /** The current config, for settings applied live. */
  readonly liveConfig?: (() => OpenClawConfig) | undefined
}

/**
 * Host boundary: runs the connector for one account until `ctx.abortSignal` fires, then closes it
 * cleanly. Never rejects.
 */
export const startAccount = (ctx: StartAccountContext, host: HostServices = {}): Promise<void> => {
  const program = Effect.flatMap(settingsFor(ctx.cfg, ctx.accountId), (resolved) => {
    const settings = Result.isSuccess(resolved) ? Option.some(resolved.success) : Option.none<ConnectorSettings>()
    const logger = InstaLogger.layer({
      debug: Option.exists(settings, (s) => s.debug),
      sink: sinkOf(ctx),
      secrets: Option.toArray(Option.map(settings, (s) => s.clientSecret))
    })
    return (Result.isFailure(resolved) ? blocked(ctx, resolved.failure) : runAccount(ctx, resolved.success, host)).pipe(
      Effect.provide(logger)
    )
  })
  const stopped = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    update(ctx, { running: false, connected: false, lifecycle: "stopped", lastStopAt: now }))
  return Effect.runPromiseExit(
    // Two accounts log into one gateway log: every line says which account it is about.
    program.pipe(Effect.onInterrupt(() => stopped), Effect.annotateLogs({ accountId: ctx.accountId })),
    { signal: ctx.abortSignal }
  ).then(() => undefined)
}

/** An account id as part of a file name. */
const fileSafe = (accountId: string) => accountId.replace(/[^A-Za-z0-9_-]/g, "_")

/** OpenClaw's `ctx.log` stamps every line with its own time. */
const sinkOf = (ctx: StartAccountContext): InstaLogger.LogSinkShape =>
  ctx.log === undefined ? InstaLogger.stderrSink : { ...ctx.log, stampsTime: true }

/**
 * The account's settings, with a secret reference in `clientSecret` (env, file, …) resolved
 * through OpenClaw's secret providers. Fails with the sentence that says what to fix.
 */
export const settingsFor = (cfg: OpenClawConfig, accountId: string): Effect.Effect<Result.Result<ConnectorSettings, string>> =>
  Effect.gen(function*() {
    const first = resolveSettings(cfg, accountId)
    const ref = first.secretRef
    if (ref === undefined) return Result.mapError(first.result, (error) => error.message)
    const resolved = yield* Effect.tryPromise(() =>
      resolveConfiguredSecretInputString({ config: cfg, env: process.env, value: ref, path: first.secretPath })
    ).pipe(Effect.orElseSucceed(() => ({ value: undefined, unresolvedRefReason: undefined })))
    if (resolved.value === undefined || resolved.value.trim() === "") {
      const reason = resolved.unresolvedRefReason === undefined ? "" : ` (${resolved.unresolvedRefReason})`
      return Result.fail(`Invalid configuration: clientSecret refers to ${ref.source} "${ref.id}", which could not be read${reason}`)
    }
    return Result.mapError(resolveSettings(cfg, accountId, process.env, resolved.value).result, (error) => error.message)
  })

const update = (ctx: StartAccountContext, patch: Record<string, unknown>) =>
  Effect.sync(() => ctx.setStatus({ ...ctx.getStatus(), accountId: ctx.accountId, ...patch }))

/** Says why the account cannot run, marks it blocked, and waits for the abort (no restart loop). */
const blocked = (ctx: StartAccountContext, reason: string): Effect.Effect<never> =>
  Effect.logError(reason).pipe(
    Effect.andThen(update(ctx, { running: false, connected: false, lifecycle: "blocked", lastError: reason })),
    Effect.andThen(Effect.never)
  )

/** The message of whatever failed, for a status line. */
const messageOf = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

const runAccount = (ctx: StartAccountContext, settings: ConnectorSettings, { hostChannel, liveConfig, stateDir }: HostServices) =>
  Effect.gen(function*() {
    yield* update(ctx, { running: true, connected: false, lifecycle: "starting", lastStartAt: yield* Clock.currentTimeMillis, lastError: null })
    const channel = (ctx.channelRuntime as OpenClawAgent.HostChannelRuntime | undefined) ?? hostChannel
    if (channel?.reply?.dispatchReplyWithBufferedBlockDispatcher === undefined || channel.inbound?.buildContext === undefined) {
      return yield* blocked(ctx, "OpenClaw did not provide a channel runtime to this plugin; update OpenClaw")
    }
    // One socket per account: wait for a previous run of this account to close first.
    yield* Accounts.claim(ctx.accountId, update(ctx, { stateReason: "waiting for the previous connection of this account to close" }))

    const connector = InstaClaw.layerWithConfig.pipe(
      Layer.provide(Layer.succeed(Agent, OpenClawAgent.make({
        channel,
        cfg: ctx.cfg,
        accountId: ctx.accountId,
        sessionScope: settings.sessionScope,
        dmPolicy: settings.dmPolicy,
        allowFrom: settings.allowFrom,
        groupSettings: settings,
        // A group's /activation mode, as the host stored it in the group's session (`Groups.ts`).
        groupActivation: (agentId, sessionKey) => getSessionEntry({ agentId, sessionKey })?.groupActivation,
        // Live settings: the current config's, when the host gives it and it is valid.
        live: liveSettings(liveConfig, ctx.accountId)
      }))),
      Layer.provide(WebSocketDialer.layer),
      Layer.provideMerge(Layer.succeed(ConnectorConfig, settings)),
      Layer.provide(Layer.succeed(InstaLogger.LogSink, sinkOf(ctx))),
      Layer.provide(stateDir === undefined ? Layer.empty : DedupeStore.layerFile(join(stateDir(), `answered-${fileSafe(ctx.accountId)}.txt`)))
    )
    return yield* serve(ctx).pipe(Effect.provide(connector))
  }).pipe(
    Effect.scoped,
    // Anything unexpected: say it and block, rather than let the host restart-loop.
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.failCause(cause)
        : Effect.andThen(Effect.logError("The connector stopped", cause), blocked(ctx, `The InstaClaw connector failed: ${messageOf(cause)}`))
    )
  )

/** Publishes the running account and mirrors its status until the abort; blocks if it gives up. */
const serve = (ctx: StartAccountContext) =>
  Effect.gen(function*() {
    const context: Context.Context<Connector> = yield* Effect.context<Connector>()
    yield* Accounts.register(ctx.accountId, { context })
    const connector = yield* Connector
    const connection = yield* Connection
    const mirror = Stream.runForEach(connector.statusChanges, (status) => update(ctx, toSnapshot(ctx.accountId, status)))
    const giveUp = Effect.flatMap(Effect.flip(connection.awaitFatal), (error) => blocked(ctx, error.message))
    return yield* Effect.raceFirst(Effect.andThen(mirror, Effect.never), giveUp)
  })

/** The `to` of a send is not an InstaClaw conversation id. */
export class InvalidTargetError extends Schema.TaggedError<InvalidTargetError>()("InvalidTargetError", {
  target: Schema.String
}) {
  override get message() {
    return `Not an InstaClaw conversation id: ${JSON.stringify(this.target)}`
  }
}

/**
 * Host boundary, `outbound.sendText` and `outbound.sendMedia`: one streamed response to
 * conversation `to`, on the account's live socket, logged through the account's logger — the text,
 * then the medium of `mediaUrl` if any (`Media.toReplyMedia`: an https URL as it is, a local file
 * within the roots the host gives). Rejects with the sentence.
 */
export const sendText = (ctx: {
  readonly to: string
  readonly text: string
  readonly accountId?: string | null | undefined
  readonly cfg?: OpenClawConfig | undefined
  readonly mediaUrl?: string | undefined
} & Media.LoadAccess) =>
  Effect.runPromise(Effect.gen(function*() {
    const mediaUrl = ctx.mediaUrl?.trim() || undefined
    if (ctx.text.trim() === "" && mediaUrl === undefined) return yield* new EmptyMessageError()
    const conversationId = normalizeTarget(ctx.to)
    if (conversationId === undefined) return yield* new InvalidTargetError({ target: ctx.to })
    const accountId = ctx.accountId ?? DEFAULT_ACCOUNT_ID
    const live = yield* Accounts.lookup(accountId)
    if (Option.isNone(live)) return yield* notConnected()
    const media = mediaUrl === undefined
      ? []
      : [yield* Media.toReplyMedia(mediaUrl, { access: ctx, maxBytes: Media.mediaSettings(ctx.cfg ?? {}, accountId).maxBytes })]
    const send = Effect.gen(function*() {
      const connector = yield* Connector
      return yield* connector.send(conversationId, ctx.text, media)
    })
    const sent = yield* Effect.provideContext(send, live.value.context)
    return { channel: CHANNEL_ID, messageId: sent.responseId, target: { kind: "conversation" as const, id: conversationId } }
  }))

/**
 * The account's settings in the host's current config, for every message: decoded again only
 * when the host hands a new config object (it replaces the object on a change), since decoding
 * them for each message showed in the plugin's profile.
 */
export const liveSettings = (liveConfig: (() => OpenClawConfig) | undefined, accountId: string) => {
  let last: { readonly cfg: OpenClawConfig; readonly live: { readonly cfg: OpenClawConfig; readonly settings: ConnectorSettings } | undefined } | undefined
  return () => {
    if (liveConfig === undefined) return undefined
    const cfg = liveConfig()
    if (last?.cfg !== cfg) {
      const current = resolveSettings(cfg, accountId).result
      last = { cfg, live: Result.isSuccess(current) ? { cfg, settings: current.success } : undefined }
    }
    return last.live
  }
}

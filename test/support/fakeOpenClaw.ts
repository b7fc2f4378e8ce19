/**
 * A fake OpenClaw host for unit tests of the plugin: the runtime calls the agent makes
 * (`resolveAgentRoute`, `inbound.ingress.resolveStable`, `inbound.buildContext`,
 * `dispatchReplyWithBufferedBlockDispatcher`), and a gateway context with status tracking.
 *
 * The inbound part is not faked: OpenClaw gives a plugin that is neither bundled nor an official
 * install the SDK's own resolver and builder, unwrapped, and so does this host — the contexts the
 * tests read are the ones the real SDK builds.
 */
import { Duration, Effect } from "effect"
import { buildChannelInboundEventContext } from "openclaw/plugin-sdk/channel-inbound"
import { resolveStableChannelMessageIngress } from "openclaw/plugin-sdk/channel-ingress-runtime"
import type { HostChannelRuntime, HostReplyPayload } from "../../src/openclaw/OpenClawAgent.ts"
import type { InstaClawAccount, StartAccountContext } from "../../src/openclaw/Channel.ts"

/**
 * How long a test waits for something on loopback before it fails saying what did not happen —
 * far beyond what a passing run takes, well below the test's own timeout.
 */
export const patience = Duration.seconds(5)

/**
 * Bounds a wait: after `patience` it dies with "<what> did not happen within 5 seconds", plus
 * `detail()`, instead of leaving the test to its bare timeout.
 */
export const within = (what: string, detail: () => string = () => "") => <A, E, R>(wait: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(wait, {
    duration: patience,
    orElse: () => Effect.die(new Error(`${what} did not happen within ${Duration.format(patience)}${detail()}`))
  })

export interface Dispatch {
  readonly ctx: Record<string, unknown>
  readonly deliver: (payload: HostReplyPayload, info: { readonly kind: string }) => Promise<unknown>
  /** The reply options the plugin passed: partial replies, assistant message starts. */
  readonly replyOptions: {
    readonly onPartialReply?: ((payload: { readonly text?: string | undefined }) => Promise<void> | void) | undefined
    readonly onAssistantMessageStart?: (() => Promise<void> | void) | undefined
    readonly onReasoningStream?: ((payload: { readonly text?: string | undefined }) => Promise<void> | void) | undefined
    readonly onToolStart?: ((payload: { readonly name?: string; readonly toolCallId?: string; readonly args?: Record<string, unknown> }) => Promise<void> | void) | undefined
  }
}

/** `answer` plays the agent: it gets each dispatch and delivers what it likes. */
export const fakeRuntime = (answer: (dispatch: Dispatch) => Promise<void>) => {
  const routes: Array<unknown> = []
  const contexts: Array<Record<string, unknown>> = []
  /** The pairing store: approved senders, and pending requests by sender. */
  const approved = new Set<string>()
  const requests = new Map<string, string>()
  const channel: HostChannelRuntime = {
    pairing: {
      readAllowFromStore: async () => [...approved],
      upsertPairingRequest: async ({ id }) => {
        const existing = requests.get(id)
        if (existing !== undefined) return { code: existing, created: false }
        const code = `PAIR${requests.size + 1}`
        requests.set(id, code)
        return { code, created: true }
      }
    },
    routing: {
      resolveAgentRoute: (params) => {
        routes.push(params)
        return { agentId: "main", sessionKey: `agent:main:instaclaw:direct:${params.peer?.id}` }
      }
    },
    inbound: {
      // Outside a host-managed plugin instance the SDK's standalone resolver is the policy-only
      // one OpenClaw's runtime hands such a plugin.
      ingress: { resolveStable: resolveStableChannelMessageIngress },
      buildContext: buildChannelInboundEventContext
    },
    reply: {
      dispatchReplyWithBufferedBlockDispatcher: async ({ ctx, dispatcherOptions, replyOptions }) => {
        contexts.push(ctx)
        await answer({ ctx, deliver: dispatcherOptions.deliver, replyOptions: replyOptions ?? {} })
        return { queuedFinal: true, counts: {} }
      }
    }
  }
  return { channel, routes, contexts, approved, requests }
}

/** A gateway context for one account, with its status history. */
export const fakeGatewayContext = (account: InstaClawAccount, cfg: unknown, extra: Partial<StartAccountContext> = {}) => {
  const abort = new AbortController()
  const statuses: Array<Record<string, any>> = []
  let current: Record<string, any> = { accountId: account.accountId }
  const logs: Array<string> = []
  const waiters = new Set<() => void>()
  const ctx: StartAccountContext = {
    cfg: cfg as never,
    accountId: account.accountId,
    account: structuredClone(account), // the host hands the plugin a copy
    abortSignal: abort.signal,
    log: { info: (l) => logs.push(l), warn: (l) => logs.push(l), error: (l) => logs.push(l), debug: (l) => logs.push(l) },
    getStatus: () => current,
    setStatus: (next) => {
      current = next
      statuses.push(next)
      for (const wake of [...waiters]) wake()
    },
    ...extra
  }
  /** Succeeds once the latest status satisfies `predicate`; bounded by `within(what)`, which adds the last status. */
  const until = (what: string, predicate: (status: Record<string, any>) => boolean) =>
    Effect.callback<void>((resume) => {
      const check = () => {
        if (!predicate(current)) return
        waiters.delete(check)
        resume(Effect.void)
      }
      waiters.add(check)
      check()
      return Effect.sync(() => {
        waiters.delete(check)
      })
    }).pipe(within(what, () => `; last status: ${JSON.stringify(current)}`))
  return { ctx, abort, statuses, logs, status: () => current, until }
}

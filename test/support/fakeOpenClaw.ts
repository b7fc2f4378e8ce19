/**
 * A fake OpenClaw host for unit tests of the plugin: the runtime calls the agent makes
 * (`resolveAgentRoute`, `inbound.ingress.resolveStable`, `inbound.buildContext`,
 * `dispatchReplyWithBufferedBlockDispatcher`, the media store), and a gateway context with status
 * tracking.
 *
 * The inbound part is not faked: OpenClaw gives a plugin that is neither bundled nor an official
 * install the SDK's own resolver and builder, unwrapped, and so does this host — the contexts the
 * tests read are the ones the real SDK builds.
 */
import { Duration, Effect } from "effect"
import { Buffer } from "node:buffer"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { buildChannelInboundEventContext } from "openclaw/plugin-sdk/channel-inbound"
import { resolveStableChannelMessageIngress } from "openclaw/plugin-sdk/channel-ingress-runtime"
import { resolveAgentRoute } from "openclaw/plugin-sdk/routing"
import type { HostMediaStore } from "../../src/openclaw/Media.ts"
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

/** An error of the host's media store: `MediaFetchError` (fetching) and `SaveMediaSourceError` (saving) both carry a `code`. */
class StoreError extends Error {
  readonly code: string
  readonly status: number | undefined
  constructor(code: string, message: string, status?: number) {
    super(message)
    this.code = code
    this.status = status
  }
}

/**
 * The host's media store (`runtime.channel.media`), faked the way OpenClaw's behaves
 * (`dist/fetch-*.mjs`, `store-*.mjs`, `ssrf-*.mjs`): `saveRemoteMedia` refuses anything but
 * http(s), plain http when asked for https, and loopback hosts unless `ssrfPolicy.allowedHostnames`
 * names them; a status other than 2xx is `http_error` with the status, and more than `maxBytes`
 * (default 100 MiB; by Content-Length, or while reading) is `max_bytes`. `saveMediaBuffer`
 * refuses more than `maxBytes` (default 5 MiB) as `too-large`. Files go to `dir`; every call is
 * recorded.
 */
export const fakeMediaStore = (dir: string) => {
  const calls: Array<{ readonly method: "saveRemoteMedia" | "saveMediaBuffer"; readonly url?: string; readonly maxBytes?: number | undefined; readonly contentType?: string | undefined }> = []
  let saved = 0
  const write = (buffer: Buffer, contentType: string | undefined, fileName: string | undefined) => {
    const path = join(dir, `${fileName === undefined ? "" : `${fileName}---`}${++saved}`)
    writeFileSync(path, buffer)
    return { id: `${saved}`, path, size: buffer.byteLength, ...(contentType === undefined ? {} : { contentType }), ...(fileName === undefined ? {} : { fileName }) }
  }
  const store: HostMediaStore = {
    saveRemoteMedia: async (options) => {
      calls.push({ method: "saveRemoteMedia", url: options.url, maxBytes: options.maxBytes })
      const maxBytes = options.maxBytes ?? 100 * 1024 * 1024
      const failed = (reason: string) => new StoreError("fetch_failed", `Failed to fetch media from ${options.url}: ${reason}`)
      const url = new URL(options.url)
      if (url.protocol !== "http:" && url.protocol !== "https:") throw failed("Invalid URL: must be http or https")
      if (options.requireHttps === true && url.protocol !== "https:") throw failed("URL must use https")
      const host = url.hostname.replace(/^\[|\]$/g, "")
      const loopback = host === "localhost" || host === "::1" || host.startsWith("127.")
      if (loopback && !(options.ssrfPolicy?.allowedHostnames ?? []).includes(host)) throw failed("Blocked hostname or private/internal/special-use IP address")
      const response = await fetch(url, { redirect: "manual" })
      if (!response.ok) {
        await response.body?.cancel()
        throw new StoreError("http_error", `Failed to fetch media from ${options.url}: HTTP ${response.status}`, response.status)
      }
      const length = Number(response.headers.get("content-length") ?? Number.NaN)
      if (length > maxBytes) {
        await response.body?.cancel()
        throw new StoreError("max_bytes", `Failed to fetch media from ${options.url}: content length ${length} exceeds maxBytes ${maxBytes}`)
      }
      const buffer = Buffer.from(await response.arrayBuffer())
      if (buffer.byteLength > maxBytes) throw new StoreError("max_bytes", `Failed to fetch media from ${options.url}: payload exceeds maxBytes ${maxBytes}`)
      const headerType = response.headers.get("content-type") ?? undefined
      const contentType = headerType === undefined || headerType === "application/octet-stream" ? (options.fallbackContentType ?? headerType) : headerType
      return write(buffer, contentType, options.originalFilename ?? (url.pathname.split("/").at(-1) || undefined))
    },
    saveMediaBuffer: async (buffer, contentType, _subdir, maxBytes = 5 * 1024 * 1024, originalFilename) => {
      calls.push({ method: "saveMediaBuffer", maxBytes, contentType })
      if (buffer.byteLength > maxBytes) throw new StoreError("too-large", `Media exceeds ${maxBytes / (1024 * 1024)}MB limit`)
      return write(buffer, contentType, originalFilename)
    }
  }
  return { store, calls }
}

/** `answer` plays the agent: it gets each dispatch and delivers what it likes; `media` is the host's media store, if any. */
export const fakeRuntime = (answer: (dispatch: Dispatch) => Promise<void>, media?: HostMediaStore) => {
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
        // A group's key is the host's own (`agent:main:instaclaw:group:<peer>`, lower-cased).
        if (params.peer?.kind === "group") return resolveAgentRoute(params as Parameters<typeof resolveAgentRoute>[0])
        return { agentId: "main", sessionKey: `agent:main:instaclaw:direct:${params.peer?.id}` }
      }
    },
    inbound: {
      // Outside a host-managed plugin instance the SDK's standalone resolver is the policy-only
      // one OpenClaw's runtime hands such a plugin.
      ingress: { resolveStable: resolveStableChannelMessageIngress },
      buildContext: buildChannelInboundEventContext
    },
    ...(media === undefined ? {} : { media }),
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

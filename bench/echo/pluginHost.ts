/**
 * A minimal OpenClaw host for the cross-process phases (paced, burst), so that the plugin entry
 * is measured the way OpenClaw runs it — in the host's own process, with no Node flags of its
 * own — against a baseline in the same kind of process. Run by bench/processes.ts as
 * `node bench/echo/pluginHost.ts <url> plugin|baseline`.
 *
 * Both modes load the same OpenClaw SDK modules the host's channel runtime is made of (the
 * ingress resolver, the inbound context builder, the route resolver; the SDK's own inbound code,
 * as test/support/fakeOpenClaw.ts uses it), build the same runtime and config, and make a state
 * directory (removed at exit). Then:
 * - `plugin` imports the BUILT entry (`dist/openclaw/index.js`, run `npm run build` first), calls
 *   its `register(api)` in "full" registration mode, and starts ONE account through the channel's
 *   `gateway.startAccount`, as OpenClaw's gateway does. The host's agent echoes: each message's
 *   body comes back as the final reply.
 * - `baseline` runs the hand-written plain-`ws` echo client (bench/echo/baseline.ts) instead.
 * Peak RSS of one over the other is then the plugin entry's own cost in a host.
 *
 * Written by hand on purpose: it imports neither test/support nor `effect` — the plugin bundles
 * its own Effect, and a second copy here would count against the plugin.
 *
 * The config is the one docs/OPENCLAW.md tells a user to write, with the bench's url and the load
 * servers' credentials. The host exits non-zero if the account does not start (not configured,
 * blocked by the plugin, or its run ends before the host aborts it); SIGTERM aborts the account
 * and exits.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { buildChannelInboundEventContext } from "openclaw/plugin-sdk/channel-inbound"
import { resolveStableChannelMessageIngress } from "openclaw/plugin-sdk/channel-ingress-runtime"
import { resolveAgentRoute } from "openclaw/plugin-sdk/routing"
import type { StartAccountContext } from "../../src/openclaw/Channel.ts"
import type { HostChannelRuntime } from "../../src/openclaw/OpenClawAgent.ts"

const [url, mode] = process.argv.slice(2)
if (url === undefined || (mode !== "plugin" && mode !== "baseline")) {
  console.error("usage: node bench/echo/pluginHost.ts <url> plugin|baseline")
  process.exit(2)
}

/** The host's config: docs/OPENCLAW.md's, for one account. */
const cfg = {
  channels: {
    instaclaw: {
      clientId: "demo",
      clientSecret: "demo-secret",
      url,
      systemPrompt: "You are the InstaClaw assistant. Answer briefly.",
      dmPolicy: "open",
      allowFrom: ["*"],
      streaming: { block: { enabled: true } }
    }
  },
  agents: { defaults: { blockStreamingDefault: "on" } },
  tools: { profile: "messaging", elevated: { enabled: false }, deny: ["automations", "gateway", "plugins"] },
  plugins: { allow: ["insta-claw-connector"] }
}

const stateDir = mkdtempSync(join(tmpdir(), "instaclaw-bench-host-"))
const removeStateDir = () => rmSync(stateDir, { recursive: true, force: true })

/** The host's channel runtime: the SDK's own inbound code, and an agent that echoes. */
const channel: HostChannelRuntime = {
  routing: { resolveAgentRoute: (params) => resolveAgentRoute(params as Parameters<typeof resolveAgentRoute>[0]) },
  inbound: {
    // What OpenClaw hands a plugin that is neither bundled nor an official install: the SDK's
    // standalone resolver and builder.
    ingress: { resolveStable: resolveStableChannelMessageIngress },
    buildContext: buildChannelInboundEventContext
  },
  reply: {
    dispatchReplyWithBufferedBlockDispatcher: async ({ ctx, dispatcherOptions }) => {
      // BodyForAgent: the message's text as the agent gets it.
      await dispatcherOptions.deliver({ text: String(ctx.BodyForAgent ?? "") }, { kind: "final" })
      return { queuedFinal: true, counts: { tool: 0, block: 0, final: 1 } }
    }
  }
}
const runtime = { channel, state: { resolveStateDir: () => stateDir }, config: { current: () => cfg } }

/** The host's log: each line on stderr, as the bench reads a client's. */
const log = {
  info: (line: string) => process.stderr.write(`${line}\n`),
  warn: (line: string) => process.stderr.write(`${line}\n`),
  error: (line: string) => process.stderr.write(`${line}\n`),
  debug: (line: string) => process.stderr.write(`${line}\n`)
}

const fail = (why: string): never => {
  console.error(`pluginHost: ${why}`)
  removeStateDir()
  process.exit(1)
}

/** Starts the plugin's account; resolves to what stops it. */
const startPlugin = async (): Promise<() => Promise<void>> => {
  const entryUrl = pathToFileURL(join(import.meta.dirname, "..", "..", "dist", "openclaw", "index.js")).href
  const plugin: typeof import("../../src/openclaw/index.ts").default = (await import(entryUrl)).default
  plugin.register({ registrationMode: "full", runtime, config: cfg, logger: log, registerChannel: () => {} } as never)
  const { config, gateway } = plugin.channelPlugin
  const accountId = config.defaultAccountId?.(cfg as never) ?? "default"
  const account = config.resolveAccount(cfg as never, accountId)
  if (!account.enabled || !account.configured) fail(`the account is not started: ${account.problem ?? "not enabled"}`)
  const abort = new AbortController()
  let status: Record<string, unknown> = { accountId }
  const ctx: StartAccountContext = {
    cfg: cfg as never,
    accountId,
    account: structuredClone(account), // the host hands the plugin a copy
    abortSignal: abort.signal,
    log,
    getStatus: () => status,
    setStatus: (next) => {
      status = next
      if (next.lifecycle === "blocked") fail(`the plugin blocked the account: ${String(next.lastError)}`)
    }
  }
  const run = gateway!.startAccount!(ctx as never) as Promise<unknown>
  // OpenClaw would restart a channel whose run ends by itself; here it is a failure.
  void run.then(() => abort.signal.aborted || fail("the account's run ended before the host stopped it"))
  return async () => {
    abort.abort()
    await run
  }
}

/** Starts the hand-written client; resolves to what stops it. */
const startBaseline = async (): Promise<() => Promise<void>> => {
  const { runBaselineEcho } = await import("./baseline.ts")
  const socket = runBaselineEcho(url)
  return async () => {
    socket.close(1000)
    await new Promise<void>((resolve) => socket.readyState === socket.CLOSED ? resolve() : socket.once("close", () => resolve()))
  }
}

const stop = await (mode === "plugin" ? startPlugin() : startBaseline())
process.once("SIGTERM", () => {
  // Bounded: the bench kills a host that does not exit in time anyway.
  setTimeout(() => fail("did not stop within 5 s"), 5_000).unref()
  stop().then(() => {
    removeStateDir()
    process.exit(0)
  }, (error) => fail(`stopping failed: ${error instanceof Error ? error.message : String(error)}`))
})

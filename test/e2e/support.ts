/**
 * Real parts for the OpenClaw end-to-end test: a fake OpenAI-compatible model server on
 * 127.0.0.1, the InstaClaw reference server, and a real OpenClaw gateway process with this
 * plugin installed the way a user installs it — `npm pack`, then `openclaw plugins install
 * <tarball> --force --accept-capabilities` — in a temporary state directory.
 */
import { Effect, Fiber, ManagedRuntime, Stream } from "effect"
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { ReferenceServer, type ServerEvent } from "../../src/server/ReferenceServer.ts"

export const repo = fileURLToPath(new URL("../..", import.meta.url))
const openclawCli = join(repo, "node_modules/openclaw/openclaw.mjs")

/**
 * A fake OpenAI-compatible chat-completions server; replies name the marker found in the request,
 * or are what `replies` holds for that marker (e.g. a reply with a `MEDIA:` line).
 */
export const startFakeModel = async () => {
  const requests: Array<string> = []
  const replies = new Map<string, string>()
  /** When the slow model (a request with MARK-SLOW) sent its first token. */
  const slow = { firstTokenAt: 0, tokens: [] as Array<string> }
  const server = http.createServer((request, response) => {
    let body = ""
    request.on("data", (chunk) => (body += chunk))
    request.on("end", () => {
      if (request.url?.endsWith("/models")) {
        response.setHeader("content-type", "application/json")
        return response.end(JSON.stringify({ data: [{ id: "echo-1", object: "model" }] }))
      }
      requests.push(body)
      const parsed = body === "" ? {} : JSON.parse(body)
      const marker = /MARK-[A-Z0-9]+/.exec(JSON.stringify(parsed.messages ?? ""))?.[0] ?? "no marker"
      const reply = replies.get(marker) ?? `Model reply for ${marker}.\n\nIt streams through OpenClaw to InstaClaw, 你好 😀.`
      const chunk = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "echo-1", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
      if (parsed.stream === true && marker.startsWith("MARK-SLOW")) {
        // Thinks for 2 s, then writes 20 tokens 150 ms apart.
        response.writeHead(200, { "content-type": "text/event-stream" })
        slow.tokens = Array.from({ length: 20 }, (_, i) => `tok${i} `)
        const write = (i: number) => {
          if (i === 0) slow.firstTokenAt = Date.now()
          if (i === slow.tokens.length) {
            response.write(chunk({}, "stop"))
            return response.end("data: [DONE]\n\n")
          }
          response.write(chunk({ role: "assistant", content: slow.tokens[i]! }, null))
          setTimeout(() => write(i + 1), 150)
        }
        setTimeout(() => write(0), 2000)
        return
      }
      if (parsed.stream === true) {
        response.writeHead(200, { "content-type": "text/event-stream" })
        for (const word of reply.split(/(?<= )/)) response.write(chunk({ role: "assistant", content: word }, null))
        response.write(chunk({}, "stop"))
        return response.end("data: [DONE]\n\n")
      }
      response.setHeader("content-type", "application/json")
      response.end(JSON.stringify({ id: "c1", object: "chat.completion", created: 1, model: "echo-1", choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }] }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as net.AddressInfo
  return { port, requests, replies, slow, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

/** The reference server with every event recorded, and a way to wait for one. */
export const startReferenceServer = async (credentials: { readonly clientId: string; readonly clientSecret: string } = { clientId: "e2e-app", clientSecret: "e2e-secret-5d2c" }) => {
  const runtime = ManagedRuntime.make(ReferenceServer.layer({ port: 0, ...credentials }))
  const server = await runtime.runPromise(Effect.gen(function*() {
    return yield* ReferenceServer
  }))
  const events: Array<ServerEvent> = []
  const waiters = new Set<() => void>()
  const recorder = runtime.runFork(
    Stream.runForEach(server.events, (event) => Effect.sync(() => {
      events.push(event)
      for (const wake of [...waiters]) wake()
    }))
  )
  // Let the recorder subscribe before anything can happen.
  await runtime.runPromise(Effect.yieldNow)
  /** Resolves with the first recorded event, from index `from` on, that matches. */
  const waitFor = <E extends ServerEvent>(match: (event: ServerEvent) => event is E, from = 0) =>
    new Promise<E>((resolve) => {
      const check = () => {
        const found = events.slice(from).find(match)
        if (found === undefined) return
        waiters.delete(check)
        resolve(found)
      }
      waiters.add(check)
      check()
    })
  return {
    server,
    events,
    waitFor,
    run: <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect),
    close: async () => {
      await runtime.runPromise(Fiber.interrupt(recorder))
      await runtime.dispose()
    }
  }
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Packs this repository (`npm pack` builds it first) into `dir`; returns the tarball's path. */
export const packTarball = (dir: string): string => {
  const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }))
  return join(dir, packed.filename)
}

export interface Gateway {
  /** The gateway's own log file. */
  readonly logFile: string
  /** What `openclaw plugins install` printed. */
  readonly installOutput: string
  /** The state directory (the plugin is installed under `extensions/`). */
  readonly stateDir: string
  readonly process: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
  /** Runs an `openclaw` CLI command against this gateway (killed after `timeoutMs`, default 60 s). */
  readonly cli: (args: ReadonlyArray<string>, options?: { readonly timeoutMs?: number }) => Promise<{ readonly code: number | null; readonly output: string }>
  /**
   * Runs an interactive `openclaw` command in a terminal (a pseudo-terminal from `script`) and
   * answers its prompts: each answer's pattern is tried, in order, on the prompt being asked.
   */
  readonly interactive: (args: ReadonlyArray<string>, answers: ReadonlyArray<readonly [RegExp, string]>) => Promise<{ readonly code: number | null; readonly screen: string; readonly asked: ReadonlyArray<string> }>
  readonly stop: () => Promise<void>
}

/** Starts `openclaw gateway run` in a fresh state directory, with this plugin loaded from the repo. */
export const startGateway = async (options: {
  readonly modelPort: number
  readonly instaclawUrl: string
  /** A second account, `second`, on its own server. */
  readonly secondUrl: string
  /** More accounts by id (e.g. one with a wrong secret, one whose server is down). */
  readonly moreAccounts?: Record<string, Record<string, unknown>>
  /** `channels.instaclaw` as a whole, instead of the one built from the options above. */
  readonly channel?: Record<string, unknown>
  /** What the fake model declares it takes (OpenClaw's `input`), default text only; with "image" the host gives it the user's images. */
  readonly modelInput?: ReadonlyArray<"text" | "image">
  /** More top-level config keys (e.g. `commands`, `messages`), beside the ones above. */
  readonly config?: Record<string, unknown>
}): Promise<Gateway> => {
  const dir = mkdtempSync(join(tmpdir(), "instaclaw-e2e-"))
  const port = await freePort()
  const token = "e2e-gateway-token"
  const config = {
    gateway: { mode: "local", bind: "loopback", port, auth: { mode: "token", token } },
    update: { checkOnStart: false },
    discovery: { mdns: { mode: "off" } },
    logging: { file: join(dir, "gateway.log") },
    channels: {
      instaclaw: options.channel ?? {
        clientId: "e2e-app",
        clientSecret: "e2e-secret-5d2c",
        url: options.instaclawUrl,
        systemPrompt: "SYSPROMPT-7Q: answer briefly.",
        dmPolicy: "open",
        allowFrom: ["*"],
        streaming: { block: { enabled: true } },
        accounts: {
          // Only one InstaClaw user may talk to the agent through this account.
          second: { clientId: "e2e-app-2", clientSecret: "e2e-secret-2b7e", url: options.secondUrl, dmPolicy: "allowlist", allowFrom: ["user_charlie"] },
          ...options.moreAccounts
        }
      }
    },
    models: {
      providers: {
        fake: {
          baseUrl: `http://127.0.0.1:${options.modelPort}/v1`,
          apiKey: "fake-key",
          api: "openai-completions",
          models: [{ id: "echo-1", name: "Echo", input: options.modelInput ?? ["text"], contextWindow: 32000, maxTokens: 1000, cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 } }]
        }
      }
    },
    // The config of docs/OPENCLAW.md: OpenClaw's session.dmScope left at its default (`main`), a restrictive
    // tool policy for the agent InstaClaw users reach, and the plugins the gateway may load.
    agents: { defaults: { model: { primary: "fake/echo-1" }, blockStreamingDefault: "on" } },
    tools: { profile: "messaging", elevated: { enabled: false }, deny: ["automations", "gateway", "plugins"] },
    ...options.config
  }
  const configPath = join(dir, "openclaw.json")
  // `channels.instaclaw` is an unknown key until the plugin is installed: install first, into a
  // config that has only the gateway's own settings, then add the rest.
  const { channels, ...base } = config
  writeFileSync(configPath, JSON.stringify(base, null, 2))
  // OpenClaw quiets its CLI output when it sees a test runner (VITEST*, NODE_ENV=test):
  // the gateway and CLI get the environment a person's shell would have.
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(INSTACLAW_|OPENCLAW_|VITEST|NODE_ENV$|TEST$)/.test(key))
  )
  const env = {
    ...clean,
    HOME: dir,
    OPENCLAW_STATE_DIR: join(dir, "state"),
    OPENCLAW_CONFIG_PATH: configPath,
    OPENCLAW_DISABLE_BONJOUR: "1",
    OPENCLAW_NO_AUTO_UPDATE: "1",
    OPENCLAW_NO_RESPAWN: "1",
    OPENCLAW_GATEWAY_TOKEN: token,
    // For an account whose secret is a reference to the environment (`channels add --client-secret-env`).
    E2E_ADDED_SECRET: "e2e-secret-5d2c"
  }
  const tarball = packTarball(dir)
  const installOutput = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [openclawCli, "plugins", "install", tarball, "--force", "--accept-capabilities"], { cwd: dir, env, timeout: 120_000 }, (error, stdout, stderr) =>
      error === null ? resolve(`${stdout}${stderr}`) : reject(new Error(`openclaw plugins install failed: ${stdout}${stderr}`))))
  const installed = JSON.parse(readFileSync(configPath, "utf8"))
  writeFileSync(configPath, JSON.stringify({ ...installed, plugins: { ...installed.plugins, allow: ["insta-claw-connector"] }, channels }, null, 2))

  const child = spawn(process.execPath, [openclawCli, "gateway", "run"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const cli = (args: ReadonlyArray<string>, options: { readonly timeoutMs?: number } = {}) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(process.execPath, [openclawCli, ...args], { cwd: dir, env, timeout: options.timeoutMs ?? 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (typeof error.code === "number" ? error.code : 1), output: `${stdout}${stderr}` }))
    })
  const interactive = (args: ReadonlyArray<string>, answers: ReadonlyArray<readonly [RegExp, string]>) =>
    new Promise<{ code: number | null; screen: string; asked: Array<string> }>((resolve) => {
      const command = [process.execPath, openclawCli, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(" ")
      // A terminal 110 columns wide, so prompts are drawn on their own lines.
      const child = spawn("script", ["-qfec", `stty cols 110 rows 50; ${command}`, "/dev/null"], { cwd: dir, env: { ...env, TERM: "xterm" } })
      let raw = ""
      let answeredAt = 0
      let quietSince = Date.now()
      const asked: Array<string> = []
      const screen = () => raw.replace(/\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-B]|[=>NOM78])/g, "").replaceAll("\r", "")
      const onData = (chunk: Buffer) => {
        raw += chunk
        quietSince = Date.now()
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", onData)
      // Once the terminal is quiet, the prompt being asked is the last one drawn (◆) after the
      // previous answer was taken (◇).
      const tick = setInterval(() => {
        if (Date.now() - quietSince < 700) return
        const fresh = screen().slice(answeredAt)
        const taken = asked.length === 0 ? 0 : fresh.indexOf("\u25c7")
        const at = fresh.lastIndexOf("\u25c6")
        if (taken === -1 || at === -1 || at < taken) return
        const prompt = fresh.slice(at)
        const answer = answers.find(([pattern]) => pattern.test(prompt))
        if (answer === undefined) return
        asked.push(prompt.split("\n")[0]!)
        answeredAt = screen().length
        child.stdin.write(answer[1])
      }, 250)
      const timeout = setTimeout(() => child.kill("SIGKILL"), 90_000)
      child.on("exit", (code) => {
        clearInterval(tick)
        clearTimeout(timeout)
        resolve({ code, screen: screen(), asked })
      })
    })
  return {
    logFile: join(dir, "gateway.log"),
    installOutput,
    stateDir: env.OPENCLAW_STATE_DIR,
    process: child,
    output: () => output,
    exited,
    cli,
    interactive,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

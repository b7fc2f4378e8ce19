/**
 * The plugin inside a real OpenClaw gateway: a fake OpenAI-compatible model on 127.0.0.1 plays
 * the LLM, the reference server plays InstaClaw. Every process started here is stopped.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { ServerEvent } from "../../src/server/ReferenceServer.ts"
import { FULL_SEQUENCE } from "../support/frames.ts"
import { validateEvent } from "../support/openResponsesSchema.ts"
import { freePort, type Gateway, startFakeModel, startGateway, startReferenceServer } from "./support.ts"

const ORDER = FULL_SEQUENCE

type Tagged<T extends ServerEvent["_tag"]> = Extract<ServerEvent, { readonly _tag: T }>
const is = <T extends ServerEvent["_tag"]>(tag: T, where: (event: Tagged<T>) => boolean = () => true) =>
  (event: ServerEvent): event is Tagged<T> => event._tag === tag && where(event as Tagged<T>)

let model: Awaited<ReturnType<typeof startFakeModel>>
let instaclaw: Awaited<ReturnType<typeof startReferenceServer>>
let second: Awaited<ReturnType<typeof startReferenceServer>>
let gateway: Gateway

beforeAll(async () => {
  model = await startFakeModel()
  instaclaw = await startReferenceServer()
  second = await startReferenceServer({ clientId: "e2e-app-2", clientSecret: "e2e-secret-2b7e" })
  gateway = await startGateway({
    modelPort: model.port,
    instaclawUrl: instaclaw.server.url,
    secondUrl: second.server.url,
    moreAccounts: {
      // The right server, the wrong secret: it answers 401.
      wrong: { clientId: "e2e-app", clientSecret: "not-the-secret-91", url: instaclaw.server.url },
      // Nothing listens there.
      down: { clientId: "e2e-app", clientSecret: "e2e-secret-5d2c", url: `ws://127.0.0.1:${await freePort()}/user-ws/` }
    }
  })
  await Promise.race([
    Promise.all([instaclaw.waitFor(is("ClientConnected")), second.waitFor(is("ClientConnected"))]),
    gateway.exited.then((code) => {
      throw new Error(`the gateway exited (${code}) before connecting:\n${gateway.output()}`)
    })
  ])
})

afterAll(async () => {
  await gateway?.stop()
  await instaclaw?.close()
  await second?.close()
  await model?.close()
})

describe("insta-claw-connector inside a real OpenClaw gateway", () => {
  it("installs from the packed tarball with OpenClaw's own command, without warnings, as one self-contained entry", async () => {
    assert.include(gateway.installOutput, "Installed plugin: insta-claw-connector")
    assert.notInclude(gateway.installOutput, "differs from npm package name")
    // Effect and ws are inside dist/openclaw/index.js: the install brings no dependencies, so
    // OpenClaw has no dependency tree to copy for each plugin generation (see the README).
    const installed = join(gateway.stateDir, "extensions", "insta-claw-connector")
    assert.isTrue(existsSync(join(installed, "dist", "openclaw", "index.js")))
    const modules = join(installed, "node_modules")
    const dependencies = existsSync(modules) ? readdirSync(modules).flatMap((name) => name.startsWith("@") ? readdirSync(join(modules, name)).map((inner) => `${name}/${inner}`) : [name]) : []
    // Only the link OpenClaw itself makes to its SDK.
    assert.deepStrictEqual(dependencies.filter((name) => name !== "openclaw"), [])
    const inspect = await gateway.cli(["plugins", "inspect", "insta-claw-connector"])
    assert.include(inspect.output, "channel: instaclaw", inspect.output)
  })

  it("a user message reaches the agent and the model's reply streams back as a valid Open Responses response", async () => {
    const from = instaclaw.events.length
    const { responseId: _userMessage } = await instaclaw.run(
      instaclaw.server.sendUserMessage({ conversationId: "conv_e2e", text: "Hello MARK-E2E1, are you there?", senderId: "user_1", senderName: "Ada" })
    )
    const done = await instaclaw.waitFor(is("ReplyCompleted", (e) => e.conversationId === "conv_e2e"), from)
    assert.strictEqual(done.text, "Model reply for MARK-E2E1.\n\nIt streams through OpenClaw to InstaClaw, 你好 😀.")

    const events = instaclaw.events
      .slice(from)
      .filter(is("Frame"))
      .map((frame) => ({ envelope: JSON.parse(frame.json), event: JSON.parse(JSON.parse(frame.json).data) }))
      .filter(({ event }) => event.response_id === done.responseId)
    assert.isAtLeast(events.length, 9)
    for (const { envelope } of events) assert.strictEqual(envelope.headers.conversationId, "conv_e2e")
    assert.deepStrictEqual(events.map(({ event }) => event.sequence_number), events.map((_, i) => i))
    const ranks = events.map(({ event }) => ORDER.indexOf(event.type))
    assert.isTrue(ranks.every((rank, i) => rank >= 0 && (i === 0 || rank >= ranks[i - 1]!)), JSON.stringify(events.map(({ event }) => event.type)))
    assert.deepStrictEqual(events.flatMap(({ event }) => validateEvent(event)), [])

    const request = model.requests.find((body) => body.includes("MARK-E2E1"))
    assert.isDefined(request, "the model saw the user's message")
    assert.include(request!, "SYSPROMPT-7Q", "the configured systemPrompt reached the model")
  })

  it("a reply starts at once and streams as the model writes it", async () => {
    const from = instaclaw.events.length
    const sentAt = Date.now()
    await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId: "conv_slow", text: "MARK-SLOW tell me slowly", senderId: "user_slow" }))
    // Frames are timed as they reach the server (the recorder runs as they arrive).
    const arrivals: Array<{ at: number; type: string }> = []
    const done = await new Promise<Extract<ServerEvent, { _tag: "ReplyCompleted" }>>((resolve) => {
      let seen = from
      const tick = setInterval(() => {
        for (; seen < instaclaw.events.length; seen++) {
          const event = instaclaw.events[seen]!
          // The reply's frames: its message envelopes (the message's ack names the conversation too).
          if (event._tag === "Frame" && JSON.parse(event.json).type === "message") {
            const data = JSON.parse(JSON.parse(event.json).data)
            if (JSON.parse(event.json).headers.conversationId === "conv_slow") arrivals.push({ at: Date.now(), type: data.type })
          }
          if (event._tag === "ReplyCompleted" && event.conversationId === "conv_slow") {
            clearInterval(tick)
            resolve(event)
          }
        }
      }, 5)
    })
    assert.strictEqual(done.text.trim(), model.slow.tokens.join("").trim(), "the model's text, nothing doubled or lost")
    assert.strictEqual(arrivals[0]!.type, "response.created")
    assert.isBelow(arrivals[0]!.at - sentAt, 500, "the first frame within 500 ms of the user's message, before the model's first token")
    const deltas = arrivals.filter((a) => a.type === "response.output_text.delta")
    assert.isAtLeast(deltas.length, 8)
    assert.isAtLeast(deltas.at(-1)!.at - deltas[0]!.at, 1500, "spread as the model writes, not all at the end")
    assert.isBelow(deltas[0]!.at - model.slow.firstTokenAt, 1000, "the first delta within 1 s of the model's first token")
    const events = instaclaw.events.slice(from).filter(is("Frame"))
      .filter((frame) => JSON.parse(frame.json).type === "message" && JSON.parse(frame.json).headers.conversationId === "conv_slow")
      .map((frame) => JSON.parse(JSON.parse(frame.json).data))
    assert.deepStrictEqual(events.flatMap((event) => validateEvent(event)), [], "every event valid against the schema")
  })

  it("`/stop` mid-reply ends it with response.incomplete within 3 s, nothing of it after", async () => {
    const from = instaclaw.events.length
    await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId: "conv_stop", text: "MARK-SLOW please go on and on", senderId: "user_stop" }))
    await instaclaw.waitFor(is("ReplyDelta", (e) => e.conversationId === "conv_stop"), from)
    const stopAt = Date.now()
    await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId: "conv_stop", text: "/stop", senderId: "user_stop" }))
    const frames = () =>
      instaclaw.events.slice(from).filter(is("Frame")).map((frame) => JSON.parse(JSON.parse(frame.json).data))
    let incomplete: any
    while (incomplete === undefined && Date.now() - stopAt < 10_000) {
      incomplete = frames().find((event) => event.type === "response.incomplete")
      if (incomplete === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.isDefined(incomplete, "the running reply ended with response.incomplete")
    assert.isBelow(Date.now() - stopAt, 3000)
    assert.deepStrictEqual(incomplete.response.incomplete_details, { reason: "stopped by the user" })
    assert.deepStrictEqual(validateEvent(incomplete), [])
    await new Promise((resolve) => setTimeout(resolve, 3500)) // the model would have gone on writing
    const all = frames()
    const after = all.slice(all.indexOf(all.find((event) => event.type === "response.incomplete"))).filter((event) => event.response_id === incomplete.response_id)
    assert.deepStrictEqual(after.map((event) => event.type), ["response.incomplete"], "nothing of the stopped reply after it")
  })

  it("a message sent while a reply runs is not lost: OpenClaw's queue takes it, and both responses end", async () => {
    const from = instaclaw.events.length
    await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId: "conv_queue", text: "MARK-SLOW first, take your time", senderId: "user_q" }))
    await instaclaw.waitFor(is("ReplyDelta", (e) => e.conversationId === "conv_queue"), from)
    await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId: "conv_queue", text: "MARK-QUEUED and one more thing", senderId: "user_q" }))
    /** The responses of this conversation that have ended, by id, with how. */
    const endings = () => {
      const ended = new Map<string, string>()
      for (const frame of instaclaw.events.slice(from).filter(is("Frame"))) {
        if (JSON.parse(frame.json).headers.conversationId !== "conv_queue") continue
        const event = JSON.parse(JSON.parse(frame.json).data)
        if (["response.completed", "response.failed", "response.incomplete"].includes(event.type)) ended.set(event.response_id, event.type)
      }
      return ended
    }
    const deadline = Date.now() + 30_000
    while (endings().size < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    assert.strictEqual(endings().size, 2, `each message has its own response, and each ended: ${JSON.stringify([...endings()])}`)
    assert.isTrue(model.requests.some((body) => body.includes("MARK-QUEUED")), "the second message reached the model")
  })

  it("protocol v2: a user message cut by a drop is sent again on the next link and answered once", async () => {
    const from = instaclaw.events.length
    const status = await gateway.cli(["channels", "status", "--json"])
    const accounts: Array<Record<string, any>> = JSON.parse(status.output.slice(status.output.indexOf("{"))).channelAccounts.instaclaw
    const account = accounts.find((a) => a.accountId === "default")!
    assert.deepStrictEqual([account.protocol, account.features], [2, ["ack", "media", "groups"]], status.output)
    // The link is cut after the message's third frame: the rest never reaches the gateway.
    await instaclaw.run(instaclaw.server.setDropAfterFrames(3))
    const { responseId } = await instaclaw.run(
      instaclaw.server.sendUserMessage({ conversationId: "conv_drop", text: "MARK-DROP1 is this cut in two?", senderId: "user_drop" })
    )
    await instaclaw.waitFor(is("ClientDisconnected"), from)
    const redelivered = await instaclaw.waitFor(is("Redelivered", (e) => e.responseIds.includes(responseId)), from)
    assert.strictEqual(redelivered.clientId, "e2e-app")
    await instaclaw.waitFor(is("Acked", (e) => e.responseId === responseId), from)
    const replies = instaclaw.events.slice(from).filter(is("ReplyCompleted", (e) => e.conversationId === "conv_drop"))
    assert.strictEqual(new Set(replies.map((e) => e.responseId)).size, 1, "answered once")
    assert.include(replies[0]!.text, "MARK-DROP1")
    assert.strictEqual(model.requests.filter((body) => body.includes("MARK-DROP1 is this cut")).length, 1, "one model request")
    assert.strictEqual(await instaclaw.run(instaclaw.server.unacknowledged), 0)
  })

  it("two users in two conversations, and a third on another account, never see each other's text", async () => {
    const talk = async (server: typeof instaclaw, conversationId: string, senderId: string, text: string) => {
      const from = server.events.length
      await server.run(server.server.sendUserMessage({ conversationId, text, senderId }))
      await server.waitFor(is("ReplyCompleted", (e) => e.conversationId === conversationId), from)
    }
    await talk(instaclaw, "conv_alpha", "user_alpha", "MARK-ALPHAONE my favourite colour is red")
    await talk(instaclaw, "conv_bravo", "user_bravo", "MARK-BRAVOONE my favourite colour is blue")
    await talk(second, "conv_charlie", "user_charlie", "MARK-CHARLIEONE my favourite colour is green")
    await talk(instaclaw, "conv_alpha", "user_alpha", "MARK-ALPHATWO what did I say?")
    await talk(instaclaw, "conv_bravo", "user_bravo", "MARK-BRAVOTWO what did I say?")
    await talk(second, "conv_charlie", "user_charlie", "MARK-CHARLIETWO what did I say?")

    const conversationOf = (marker: string) => /MARK-(ALPHA|BRAVO|CHARLIE|E2E)/.exec(marker)?.[1]
    const requests = model.requests.filter((body) => /MARK-(ALPHA|BRAVO|CHARLIE)/.test(body))
    assert.isAtLeast(requests.length, 6)
    for (const body of requests) {
      const seen = new Set([...body.matchAll(/MARK-[A-Z0-9]+/g)].map((m) => conversationOf(m[0])))
      assert.strictEqual(seen.size, 1, `one model request carried text of several conversations: ${[...seen].join(", ")}`)
    }
    // Each conversation keeps its own history: the second message's request holds the first.
    for (const name of ["ALPHA", "BRAVO", "CHARLIE"]) {
      assert.isTrue(requests.some((body) => body.includes(`MARK-${name}TWO`) && body.includes(`MARK-${name}ONE`)), `${name} kept its history`)
    }
  })

  it("an allowlisted sender reaches the agent; another gets access_denied and never reaches the model", async () => {
    const from = second.events.length
    await second.run(second.server.sendUserMessage({ conversationId: "conv_mallory", text: "MARK-MALLORY let me in", senderId: "user_mallory" }))
    const refused = await second.waitFor(is("ReplyFailed", (e) => e.conversationId === "conv_mallory"), from)
    assert.deepStrictEqual([refused.code, refused.message], ["access_denied", "This assistant is not available to you."])
    assert.isFalse(model.requests.some((body) => body.includes("MARK-MALLORY")), "the refused text never reached the model")
    // user_charlie is on the allowlist: the isolation test above had its replies.
    assert.isTrue(model.requests.some((body) => body.includes("MARK-CHARLIEONE")))
  })

  it("`openclaw security audit` finds nothing about this channel or plugin under the README's config", async () => {
    const audit = await gateway.cli(["security", "audit", "--json"])
    const report = JSON.parse(audit.output.slice(audit.output.indexOf("{")))
    const findings: Array<Record<string, unknown>> = report.findings ?? []
    const ours = findings.filter((finding) => /instaclaw|insta-claw|plugins\./i.test(JSON.stringify(finding)))
    // The one the README explains: a channel for many users is reachable by many users.
    assert.deepStrictEqual(ours.map((finding) => finding.checkId), ["security.trust_model.multi_user_heuristic"], JSON.stringify(ours, null, 2))
  })

  it("`openclaw config set` of systemPrompt applies at the next message, without a reconnect", async () => {
    const disconnectsBefore = instaclaw.events.filter(is("ClientDisconnected")).length
    const set = await gateway.cli(["config", "set", "channels.instaclaw.systemPrompt", "SYSPROMPT-LIVE-9: be brief."])
    assert.strictEqual(set.code, 0, set.output)
    // The gateway notices the file change on its own; the next message must carry the new prompt.
    let request: string | undefined
    for (let attempt = 0; attempt < 20 && request === undefined; attempt++) {
      const from = instaclaw.events.length
      const marker = `MARK-LIVE${attempt}`
      await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId: `conv_live_${attempt}`, text: `${marker} hello`, senderId: "user_live" }))
      await instaclaw.waitFor(is("ReplyCompleted", (e) => e.conversationId === `conv_live_${attempt}`), from)
      request = model.requests.find((body) => body.includes(marker) && body.includes("SYSPROMPT-LIVE-9"))
      if (request === undefined) await new Promise((resolve) => setTimeout(resolve, 500))
    }
    assert.isDefined(request, "the new systemPrompt reached the model")
    assert.strictEqual(instaclaw.events.filter(is("ClientDisconnected")).length, disconnectsBefore, "no reconnect")
    assert.notMatch(readFileSync(gateway.logFile, "utf8"), /forced retirement/)
  })

  it("a setting that needs a new connection (`config set` heartbeatInterval) restarts only that account", async () => {
    const from = second.events.length
    const instaclawFrom = instaclaw.events.length
    const logBefore = readFileSync(gateway.logFile, "utf8").length
    const set = await gateway.cli(["config", "set", "channels.instaclaw.accounts.second.heartbeatInterval", "20000"])
    assert.strictEqual(set.code, 0, set.output)
    assert.strictEqual((await second.waitFor(is("ClientDisconnected"), from)).code, 1000)
    const closedAt = Date.now()
    await second.waitFor(is("ClientConnected"), from)
    // The old account stops and the new one is up well within a second.
    assert.isBelow(Date.now() - closedAt, 1000)
    assert.strictEqual(instaclaw.events.slice(instaclawFrom).filter(is("ClientDisconnected")).length, 0, "the other accounts kept their links")
    assert.notMatch(readFileSync(gateway.logFile, "utf8").slice(logBefore), /forced retirement/)
  })

  it("`openclaw channels add` without prompts, with the secret as an env reference: the new account connects", async () => {
    const from = instaclaw.events.length
    const added = await gateway.cli([
      "channels", "add", "--channel", "instaclaw", "--account", "added",
      "--client-id", "e2e-app", "--client-secret-env", "E2E_ADDED_SECRET", "--url", instaclaw.server.url
    ])
    assert.strictEqual(added.code, 0, added.output)
    // `config get` redacts the reference's id; the file shows what was stored.
    const stored = JSON.parse(readFileSync(join(dirname(gateway.logFile), "openclaw.json"), "utf8")).channels.instaclaw.accounts.added
    assert.deepStrictEqual(stored.clientSecret, { source: "env", provider: "default", id: "E2E_ADDED_SECRET" })
    assert.notInclude(JSON.stringify(stored), "e2e-secret-5d2c", "the config holds the reference, not the secret")
    await instaclaw.waitFor(is("ClientConnected"), from)
    const status = await gateway.cli(["channels", "status", "--json"])
    const accounts: Array<Record<string, any>> = JSON.parse(status.output.slice(status.output.indexOf("{"))).channelAccounts.instaclaw
    assert.isTrue(accounts.find((account) => account.accountId === "added")?.connected, status.output)
    assert.notMatch(readFileSync(gateway.logFile, "utf8"), /forced retirement/)
  })

  it("`openclaw channels add` with prompts: a new account, its secret typed in (masked), connects", async () => {
    const from = instaclaw.events.length
    const run = await gateway.interactive(["channels", "add", "--channel", "instaclaw"], [
      [/already configured\. What do you want to do\?/, "\r"], // Modify settings
      [/^\u25c6\s+InstaClaw account\s*\n[\s\S]*Add a new account/, "\x1b[A\r"], // up from the first wraps to the last entry
      [/New InstaClaw account id/, "wizard\r"],
      [/A client secret is configured\. Keep it\?/, "\x1b[B\r"], // No: this account gets its own
      [/Keep it\?/, "\r"], // the client id and URL the account inherits
      [/How do you want to provide/, "\r"], // typed in
      [/InstaClaw client secret \(x-app-secret\)/, "e2e-secret-5d2c\r"],
      [/administration from your own chat/, "\r"] // Skip for now
    ])
    assert.strictEqual(run.code, 0, run.screen)
    assert.include(run.screen, "Channels updated.", run.screen)
    assert.includeMembers(run.asked.map((line) => line.replace(/^\u25c6\s+/, "")), ["New InstaClaw account id", "InstaClaw client secret (x-app-secret)"], run.screen)
    assert.notInclude(run.screen, "e2e-secret-5d2c", "the secret is masked as it is typed")
    const stored = JSON.parse(readFileSync(join(dirname(gateway.logFile), "openclaw.json"), "utf8")).channels.instaclaw.accounts.wizard
    // Only the typed secret is written: the client id and URL kept at their prompts are inherited.
    assert.deepStrictEqual(stored, { clientSecret: "e2e-secret-5d2c" })
    await instaclaw.waitFor(is("ClientConnected"), from)
  }, 150_000)

  it("`openclaw channels status` reports the account connected", async () => {
    const status = await gateway.cli(["channels", "status"])
    assert.match(status.output, /InstaClaw default: enabled, configured, running, connected/, `code ${status.code}: ${status.output}`)
    assert.notInclude(status.output, "e2e-secret-5d2c")
  })

  it("status tells the truth while the server refuses the credentials and while it is down, and never advises a restart", async () => {
    const status = await gateway.cli(["channels", "status", "--json"])
    const accounts: Array<Record<string, any>> = JSON.parse(status.output.slice(status.output.indexOf("{"))).channelAccounts.instaclaw
    const wrong = accounts.find((account) => account.accountId === "wrong")!
    assert.strictEqual(wrong.lastError, "InstaClaw rejected the credentials (HTTP 401 on upgrade): check clientId/clientSecret", JSON.stringify(wrong))
    assert.isAtLeast(wrong.reconnectAttempts, 1)
    assert.isAbove(wrong.nextRetryAt, Date.now() - 1000, JSON.stringify(wrong))
    const down = accounts.find((account) => account.accountId === "down")!
    assert.match(down.lastError, /^Could not open the WebSocket: ECONNREFUSED/, JSON.stringify(down))
    assert.isAtLeast(down.reconnectAttempts, 1)

    const text = await gateway.cli(["channels", "status"])
    assert.include(text.output, "check clientId/clientSecret of channels.instaclaw (account wrong)", text.output)
    assert.include(text.output, "Reconnecting: Could not open the WebSocket: ECONNREFUSED", text.output)
    assert.notMatch(text.output, /restart the channel or gateway/, text.output)
    assert.notInclude(text.output, "not-the-secret-91")
  })

  it("`channels status --probe` checks the credentials with a real upgrade", async () => {
    const probed = await gateway.cli(["channels", "status", "--probe", "--json"])
    const accounts: Array<Record<string, any>> = JSON.parse(probed.output.slice(probed.output.indexOf("{"))).channelAccounts.instaclaw
    assert.deepStrictEqual(accounts.find((account) => account.accountId === "default")!.probe, { ok: true }, probed.output)
    assert.strictEqual(accounts.find((account) => account.accountId === "wrong")!.probe.kind, "AuthenticationError", probed.output)
  })

  it("`message send` to a disconnected account fails with the plugin's sentence, before the CLI's own timeout", async () => {
    // The CLI's own start-up is slow here; its 10 s wait for the gateway starts after it.
    const sent = await gateway.cli(["message", "send", "--channel", "instaclaw", "--account", "down", "--target", "conv_x", "--message", "hello?"])
    assert.notStrictEqual(sent.code, 0)
    assert.include(sent.output, "WebSocket is not connected", sent.output)
    assert.notInclude(sent.output, "outcome is unknown", "the plugin answered before the CLI gave up")
  })

  it("`openclaw message send --channel instaclaw` delivers to the reference server", async () => {
    const from = instaclaw.events.length
    const sent = await gateway.cli(["message", "send", "--channel", "instaclaw", "--target", "conv_cli", "--message", "Hello from the OpenClaw CLI"])
    assert.strictEqual(sent.code, 0, sent.output)
    const done = await instaclaw.waitFor(is("ReplyCompleted", (e) => e.conversationId === "conv_cli"), from)
    assert.strictEqual(done.text, "Hello from the OpenClaw CLI")
  })

  it("`openclaw plugins reload` closes the socket with 1000 and connects again", async () => {
    const from = instaclaw.events.length
    const started = Date.now()
    const logBefore = readFileSync(gateway.logFile, "utf8").length
    const reload = await gateway.cli(["plugins", "reload", "insta-claw-connector"])
    assert.strictEqual(reload.code, 0, reload.output)
    const closed = await instaclaw.waitFor(is("ClientDisconnected"), from)
    assert.strictEqual(closed.code, 1000)
    await instaclaw.waitFor(is("ClientConnected"), from)
    // The old generation drains and retires within OpenClaw's 5 s, with nothing left running.
    assert.notMatch(readFileSync(gateway.logFile, "utf8").slice(logBefore), /forced retirement/)
    console.log(`plugins reload: reconnected ${Date.now() - started} ms after the command started`)
  })

  it("SIGTERM to the gateway closes the socket with 1000", async () => {
    const from = instaclaw.events.length
    gateway.process.kill("SIGTERM")
    const closed = await instaclaw.waitFor(is("ClientDisconnected"), from)
    assert.strictEqual(closed.code, 1000)
    await gateway.exited
    assert.notInclude(gateway.output(), "e2e-secret-5d2c", "the secret never reaches the gateway's output")
  })
})

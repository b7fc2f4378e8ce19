/**
 * Named accounts inherit the channel's settings inside a real OpenClaw gateway. The README's
 * config, plus a channel-level `url`, `dmPolicy: "allowlist"` and `allowFrom`, and an account
 * `eu` that writes only its credentials: it must dial the channel's URL (not the built-in default
 * remote one) and refuse a stranger, as the channel says. OpenClaw fills JSON Schema defaults into
 * every account it hands out, so a schema default for `url` or `dmPolicy` would silently win over
 * the channel's value.
 */
import { readFileSync } from "node:fs"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { ServerEvent } from "../../src/server/ReferenceServer.ts"
import { type Gateway, startFakeModel, startGateway, startReferenceServer } from "./support.ts"

type Tagged<T extends ServerEvent["_tag"]> = Extract<ServerEvent, { readonly _tag: T }>
const is = <T extends ServerEvent["_tag"]>(tag: T, where: (event: Tagged<T>) => boolean = () => true) =>
  (event: ServerEvent): event is Tagged<T> => event._tag === tag && where(event as Tagged<T>)

let model: Awaited<ReturnType<typeof startFakeModel>>
let instaclaw: Awaited<ReturnType<typeof startReferenceServer>>
let gateway: Gateway

/** Waits until `count` events match, or fails after `millis` saying what was missing. */
const waitForCount = async <E extends ServerEvent>(what: string, match: (event: ServerEvent) => event is E, count: number, from: number, millis = 30_000): Promise<Array<E>> => {
  const deadline = Date.now() + millis
  while (instaclaw.events.slice(from).filter(match).length < count) {
    if (Date.now() > deadline) {
      throw new Error(`${what}: saw ${instaclaw.events.slice(from).filter(match).length} of ${count} within ${millis} ms\n${gateway.output().slice(-3000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return instaclaw.events.slice(from).filter(match)
}

beforeAll(async () => {
  model = await startFakeModel()
  instaclaw = await startReferenceServer()
  gateway = await startGateway({
    modelPort: model.port,
    instaclawUrl: instaclaw.server.url,
    secondUrl: instaclaw.server.url,
    channel: {
      clientId: "e2e-app",
      clientSecret: "e2e-secret-5d2c",
      systemPrompt: "You are the InstaClaw assistant. Answer briefly.",
      streaming: { block: { enabled: true } },
      url: instaclaw.server.url,
      dmPolicy: "allowlist",
      allowFrom: ["user_ada"],
      // Only its credentials: everything else comes from the keys above.
      accounts: { eu: { clientId: "e2e-app", clientSecret: "e2e-secret-5d2c" } }
    }
  })
  await Promise.race([
    // The gateway takes a while to start its channels on a busy 2-core machine.
    waitForCount("the default and eu accounts connect to the channel's url", is("ClientConnected"), 2, 0, 150_000),
    gateway.exited.then((code) => {
      throw new Error(`the gateway exited (${code}) before connecting:\n${gateway.output()}`)
    })
  ])
})

afterAll(async () => {
  await gateway?.stop()
  await instaclaw?.close()
  await model?.close()
})

describe("a named account that writes only its credentials, in a real gateway", () => {
  it("connects to the channel's url, and `channels status` shows it connected", async () => {
    const status = await gateway.cli(["channels", "status", "--json"])
    const accounts: Array<Record<string, any>> = JSON.parse(status.output.slice(status.output.indexOf("{"))).channelAccounts.instaclaw
    assert.isTrue(accounts.find((account) => account.accountId === "eu")?.connected, status.output)
    assert.notInclude(readFileSync(gateway.logFile, "utf8"), "claw-dev.int-os.com", "no account dialled the built-in default URL")
  })

  it("refuses a stranger, as the channel's allowlist says, and the model never sees the message", async () => {
    const from = instaclaw.events.length
    await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId: "conv_stranger", text: "MARK-STRANGER let me in", senderId: "user_mallory" }))
    // The reference server sends each user message to every connected account: both refuse it.
    const refused = await waitForCount("both accounts refuse the stranger", is("ReplyFailed", (e) => e.conversationId === "conv_stranger"), 2, from)
    assert.deepStrictEqual(refused.map((event) => event.code), ["access_denied", "access_denied"])
    assert.strictEqual(instaclaw.events.slice(from).filter(is("ReplyCompleted", (e) => e.conversationId === "conv_stranger")).length, 0)
    assert.isUndefined(model.requests.find((body) => body.includes("MARK-STRANGER")))
  })

  it("answers the sender the channel allows, on both accounts", async () => {
    const from = instaclaw.events.length
    await instaclaw.run(instaclaw.server.sendUserMessage({ conversationId: "conv_ada", text: "Hello MARK-ADA", senderId: "user_ada" }))
    const answered = await waitForCount("both accounts answer the allowed sender", is("ReplyCompleted", (e) => e.conversationId === "conv_ada"), 2, from, 60_000)
    for (const reply of answered) assert.include(reply.text, "MARK-ADA")
  })

  it("`openclaw config get` of the account shows only what the operator wrote", async () => {
    const got = await gateway.cli(["config", "get", "channels.instaclaw.accounts.eu", "--json"])
    assert.strictEqual(got.code, 0, got.output)
    const shown = JSON.parse(got.output.slice(got.output.indexOf("{")))
    assert.deepStrictEqual(Object.keys(shown).sort(), ["clientId", "clientSecret"], got.output)
    assert.notInclude(got.output, "e2e-secret-5d2c", "the secret is redacted")
  })
})

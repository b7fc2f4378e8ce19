/**
 * Group chats (issue 26, PROTOCOL §8.2) inside a real OpenClaw gateway, under the README's safe
 * group setup: groupPolicy allowlist, two named senders in groupAllowFrom, every group, only when
 * mentioned. Two accounts, each on its own reference server, play the same group id. A fake model
 * on 127.0.0.1 records every request: "reached no model request" is read there.
 *
 * An answered message is acknowledged only after its reply reached the server (§7), so a message
 * whose ack came with no reply before it was skipped, not merely slow.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { ServerEvent } from "../../src/server/ReferenceServer.ts"
import { type Gateway, startFakeModel, startGateway, startReferenceServer } from "./support.ts"

type Tagged<T extends ServerEvent["_tag"]> = Extract<ServerEvent, { readonly _tag: T }>
const is = <T extends ServerEvent["_tag"]>(tag: T, where: (event: Tagged<T>) => boolean = () => true) =>
  (event: ServerEvent): event is Tagged<T> => event._tag === tag && where(event as Tagged<T>)

type Server = Awaited<ReturnType<typeof startReferenceServer>>
let model: Awaited<ReturnType<typeof startFakeModel>>
let alpha: Server
let beta: Server
let gateway: Gateway

/** The README's group setup, on the default account and (inherited) on `second`. */
const groupSetup = {
  groupPolicy: "allowlist",
  groupAllowFrom: ["user_ada", "user_bob"],
  groups: { "*": { requireMention: true } },
  historyLimit: 20
}

/** Waits until `count` events from `from` on match, or fails saying what was missing. */
const waitForCount = async <E extends ServerEvent>(server: Server, what: string, match: (event: ServerEvent) => event is E, count: number, from: number, millis = 60_000) => {
  const deadline = Date.now() + millis
  while (server.events.slice(from).filter(match).length < count) {
    if (Date.now() > deadline) throw new Error(`${what}: saw ${server.events.slice(from).filter(match).length} of ${count} within ${millis} ms\n${gateway.output().slice(-3000)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return server.events.slice(from).filter(match)
}

/** Sends a user message in group `grp_team` (unless said otherwise); returns its response id. */
const say = async (server: Server, message: { readonly text: string; readonly senderId: string; readonly senderName?: string; readonly mentioned?: boolean; readonly conversationId?: string; readonly replyToId?: string; readonly replyToText?: string }) => {
  const { responseId } = await server.run(server.server.sendUserMessage({
    conversationId: "grp_team",
    chatType: "group",
    groupName: "Launch team",
    ...message
  }))
  return responseId
}

/** The model requests that contain `marker`. */
const requestsWith = (marker: string) => model.requests.filter((body) => body.includes(marker))

beforeAll(async () => {
  model = await startFakeModel()
  alpha = await startReferenceServer()
  beta = await startReferenceServer({ clientId: "e2e-app-2", clientSecret: "e2e-secret-2b7e" })
  gateway = await startGateway({
    modelPort: model.port,
    instaclawUrl: alpha.server.url,
    secondUrl: beta.server.url,
    channel: {
      clientId: "e2e-app",
      clientSecret: "e2e-secret-5d2c",
      url: alpha.server.url,
      streaming: { block: { enabled: true } },
      ...groupSetup,
      // Only its own server and credentials: the group settings come from the keys above.
      accounts: { second: { clientId: "e2e-app-2", clientSecret: "e2e-secret-2b7e", url: beta.server.url } }
    },
    // Ada owns the agent: OpenClaw's owner-only commands (/activation) are hers.
    config: {
      commands: { ownerAllowFrom: ["user_ada"] },
      // The README's mention pattern, for a message whose server does not say whom it mentions.
      messages: { groupChat: { mentionPatterns: ["@assistant\\b"] } }
    }
  })
  await Promise.race([
    Promise.all([alpha.waitFor(is("Hello")), beta.waitFor(is("Hello"))]),
    gateway.exited.then((code) => {
      throw new Error(`the gateway exited (${code}) before connecting:\n${gateway.output()}`)
    })
  ])
})

afterAll(async () => {
  await gateway?.stop()
  await alpha?.close()
  await beta?.close()
  await model?.close()
})

describe("group chats in a real gateway, under the README's group setup", () => {
  let answerId = ""

  it("the connector's hello lists groups, so the server may send group traffic", () => {
    const hello = alpha.events.find(is("Hello"))!
    assert.include(hello.features, "groups")
  })

  it("an unmentioned group message reaches no model request and gets no reply, but is acknowledged", async () => {
    const from = alpha.events.length
    const id = await say(alpha, { text: "MARK-QUIET the launch moved to Friday", senderId: "user_ada", senderName: "Ada", mentioned: false })
    await waitForCount(alpha, "the unmentioned message is acknowledged", is("Acked", (e) => e.responseId === id), 1, from)
    assert.deepStrictEqual(alpha.events.slice(from).filter((e) => e._tag === "ReplyDelta" || e._tag === "ReplyCompleted" || e._tag === "ReplyFailed"), [])
    assert.deepStrictEqual(requestsWith("MARK-QUIET"), [])
  })

  it("a mentioned one is answered in the group, with the earlier unmentioned line and who wrote it as context", async () => {
    const from = alpha.events.length
    await say(alpha, { text: "MARK-ASK @agent when is the launch?", senderId: "user_bob", senderName: "Bob", mentioned: true })
    const [reply] = await waitForCount(alpha, "the mentioned message is answered in the group", is("ReplyCompleted", (e) => e.conversationId === "grp_team"), 1, from)
    answerId = reply!.responseId
    const [request] = requestsWith("MARK-ASK")
    assert.isDefined(request, "the model was asked")
    assert.include(request, "MARK-QUIET the launch moved to Friday", "the unmentioned line is in the model's context")
    assert.include(request, "Ada (user_ada)", "with who wrote it")
    assert.include(request, "Launch team", "and the group's name")
    assert.isUndefined(reply!.replyToId, "no reply tag, no quote")
  })

  it("a reply to the agent's own message counts as a mention, and the quoted text reaches the agent", async () => {
    const from = alpha.events.length
    await say(alpha, { text: "MARK-FOLLOW and what comes after that?", senderId: "user_ada", mentioned: false, replyToId: answerId, replyToText: "QUOTED-7F the launch is Friday" })
    await waitForCount(alpha, "the reply to the agent is answered", is("ReplyCompleted", (e) => e.conversationId === "grp_team"), 1, from)
    const [request] = requestsWith("MARK-FOLLOW")
    assert.isDefined(request)
    assert.include(request, "QUOTED-7F", "the quoted text is in the model's context")
  })

  it("with no mentioned header, OpenClaw's mention pattern decides", async () => {
    const from = alpha.events.length
    const quiet = await say(alpha, { text: "MARK-NOPATTERN nothing for the agent", senderId: "user_ada", conversationId: "grp_patterns" })
    await waitForCount(alpha, "the line without the pattern is acknowledged", is("Acked", (e) => e.responseId === quiet), 1, from)
    await say(alpha, { text: "MARK-PATTERN @assistant are you there?", senderId: "user_ada", conversationId: "grp_patterns" })
    await waitForCount(alpha, "the line with the pattern is answered", is("ReplyCompleted", (e) => e.conversationId === "grp_patterns"), 1, from)
    assert.deepStrictEqual(alpha.events.slice(from).filter(is("ReplyCompleted")).length, 1, "one answer, to the line with the pattern")
    assert.strictEqual(requestsWith("MARK-NOPATTERN").length, 1, "the other line reached the model only as context of the answered one")
    assert.include(requestsWith("MARK-PATTERN")[0], "MARK-NOPATTERN")
  })

  it("a sender outside groupAllowFrom is refused: acknowledged, no model request, no reply", async () => {
    const from = alpha.events.length
    const id = await say(alpha, { text: "MARK-MALLORY @agent let me in", senderId: "user_mallory", mentioned: true })
    await waitForCount(alpha, "the stranger's message is acknowledged", is("Acked", (e) => e.responseId === id), 1, from)
    assert.deepStrictEqual(alpha.events.slice(from).filter((e) => e._tag === "ReplyCompleted" || e._tag === "ReplyFailed"), [])
    assert.deepStrictEqual(requestsWith("MARK-MALLORY"), [])
  })

  it("two accounts with the same group id never share text: separate sessions, separate histories", async () => {
    const from = beta.events.length
    const quiet = await say(beta, { text: "MARK-BETAQUIET only for the second account", senderId: "user_bob", mentioned: false })
    await waitForCount(beta, "the second account's unmentioned line is acknowledged", is("Acked", (e) => e.responseId === quiet), 1, from)
    await say(beta, { text: "MARK-BETAASK @agent what did I say?", senderId: "user_bob", mentioned: true })
    await waitForCount(beta, "the second account answers in its grp_team", is("ReplyCompleted", (e) => e.conversationId === "grp_team"), 1, from)
    const [request] = requestsWith("MARK-BETAASK")
    assert.include(request, "MARK-BETAQUIET", "its own group's history")
    for (const other of ["MARK-QUIET", "MARK-ASK", "MARK-FOLLOW"]) assert.notInclude(request, other, `nothing of the default account's grp_team (${other})`)
    // And back: the default account's next answer in grp_team knows nothing of the second's.
    const fromAlpha = alpha.events.length
    await say(alpha, { text: "MARK-ALPHAAGAIN @agent anything new?", senderId: "user_ada", mentioned: true })
    await waitForCount(alpha, "the default account answers again", is("ReplyCompleted", (e) => e.conversationId === "grp_team"), 1, fromAlpha)
    const [again] = requestsWith("MARK-ALPHAAGAIN")
    assert.notInclude(again, "MARK-BETA")
    const sessions = await gateway.cli(["sessions", "--json"])
    assert.include(sessions.output, "agent:main:instaclaw:group:default:grp_team", sessions.output)
    assert.include(sessions.output, "agent:main:instaclaw:group:second:grp_team", sessions.output)
  })

  it("the agent's reply tag quotes the message it answers: replyToId on the reply", async () => {
    model.replies.set("MARK-QUOTE", "[[reply_to_current]] Quoting you on that.")
    const from = alpha.events.length
    const id = await say(alpha, { text: "MARK-QUOTE @agent quote me", senderId: "user_ada", mentioned: true, conversationId: "grp_quote" })
    const [reply] = await waitForCount(alpha, "the tagged reply arrives", is("ReplyCompleted", (e) => e.conversationId === "grp_quote"), 1, from)
    assert.strictEqual(reply!.replyToId, id)
    assert.notInclude(reply!.text, "[[reply_to_current]]")
  })

  it("/stop from a listed sender needs no mention: the running reply in the group ends with response.incomplete", async () => {
    const from = alpha.events.length
    await say(alpha, { text: "MARK-SLOW @agent tell me everything", senderId: "user_bob", mentioned: true, conversationId: "grp_stop" })
    await alpha.waitFor(is("ReplyDelta", (e) => e.conversationId === "grp_stop"), from)
    const stopAt = Date.now()
    await say(alpha, { text: "/stop", senderId: "user_ada", mentioned: false, conversationId: "grp_stop" })
    const incomplete = async () => {
      while (Date.now() - stopAt < 10_000) {
        const found = alpha.events.slice(from).filter(is("Frame")).map((frame) => JSON.parse(JSON.parse(frame.json).data)).find((event) => event.type === "response.incomplete")
        if (found !== undefined) return found
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      return undefined
    }
    const ended = await incomplete()
    assert.isDefined(ended, "the running reply ended with response.incomplete")
    assert.isBelow(Date.now() - stopAt, 3000)
    assert.deepStrictEqual(ended.response.incomplete_details, { reason: "stopped by the user" })
  })

  it("/activation always from the owner: the group is then answered without a mention", async () => {
    const from = alpha.events.length
    await say(alpha, { text: "/activation always", senderId: "user_ada", mentioned: false, conversationId: "grp_always" })
    const [set] = await waitForCount(alpha, "the host answers the command", is("ReplyCompleted", (e) => e.conversationId === "grp_always"), 1, from)
    assert.include(set!.text, "always")
    const next = alpha.events.length
    await say(alpha, { text: "MARK-ALWAYS no mention here", senderId: "user_bob", mentioned: false, conversationId: "grp_always" })
    await waitForCount(alpha, "the unmentioned message is answered now", is("ReplyCompleted", (e) => e.conversationId === "grp_always"), 1, next)
    assert.strictEqual(requestsWith("MARK-ALWAYS").length, 1)
  })

  it("direct chats behave exactly as before: answered, no group context, no quote", async () => {
    const from = alpha.events.length
    await alpha.run(alpha.server.sendUserMessage({ conversationId: "conv_dm", text: "MARK-DIRECT hello", senderId: "user_carol" }))
    const [reply] = await waitForCount(alpha, "the direct message is answered", is("ReplyCompleted", (e) => e.conversationId === "conv_dm"), 1, from)
    assert.include(reply!.text, "Model reply for MARK-DIRECT")
    assert.isUndefined(reply!.replyToId)
    const [request] = requestsWith("MARK-DIRECT")
    assert.notInclude(request, "Launch team")
    assert.notInclude(request, "MARK-QUIET")
  })
})

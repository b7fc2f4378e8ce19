/**
 * Group chats through OpenClaw (`src/openclaw/Groups.ts`), each policy path against the SDK's own
 * ingress resolver and route resolver (what OpenClaw hands a plugin): which session a group goes
 * to, who is answered, when a mention is needed and how one is told, what is kept as history, and
 * that direct-chat access never opens a group.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Stream } from "effect"
import * as fc from "fast-check"
import { resolveStableChannelMessageIngress } from "openclaw/plugin-sdk/channel-ingress-runtime"
import { resolveAgentRoute } from "openclaw/plugin-sdk/routing"
import type { Admission, AgentRequest } from "../../src/Agent.ts"
import * as Channel from "../../src/openclaw/Channel.ts"
import * as Groups from "../../src/openclaw/Groups.ts"
import * as OpenClawAgent from "../../src/openclaw/OpenClawAgent.ts"
import { fakeRuntime } from "../support/fakeOpenClaw.ts"

const settings = (over: Partial<Groups.GroupSettings> = {}): Groups.GroupSettings => ({
  ...Groups.defaultGroupSettings,
  sessionScope: "conversation",
  ...over
})
/** The README's safe setup: named senders, every group, only when mentioned. */
const safe = settings({ groupAllowFrom: ["user_ada", "user_bob"], groups: { "*": { requireMention: true } } })
const patterns = { messages: { groupChat: { mentionPatterns: ["@claw\\b"] } } }

let sequence = 0
const message = (text: string, over: Partial<AgentRequest> = {}): AgentRequest => {
  sequence += 1
  return {
    conversationId: "grp_1",
    senderId: "user_ada",
    senderName: "Ada",
    chatType: "group",
    groupName: "Team",
    text,
    messageId: `msg_${sequence}`,
    responseId: `resp_${sequence}`,
    ...over
  }
}

const makeGroups = (accountId = "default") => {
  const routes: Array<{ readonly sessionKey: string }> = []
  const groups = Groups.make({
    accountId,
    resolveRoute: (params) => {
      const route = resolveAgentRoute(params as Parameters<typeof resolveAgentRoute>[0])
      routes.push(route)
      return route
    },
    ingress: { resolveStable: resolveStableChannelMessageIngress }
  })
  return { groups, routes }
}

/** Runs `effect` and returns what it logged as well, one "Level: text" line each. */
const logged = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel}: ${(Array.isArray(message) ? message : [message]).join(" ")}`)
    })
    const result = yield* effect.pipe(Effect.provide(Logger.layer([logger])))
    return [result, lines] as const
  })

const answered: Admission = { decision: "answer" }
const isSkip = (admission: Admission) => admission.decision === "skip"

describe("routing", () => {
  it.effect("a group goes to a session of its own per account: two accounts with one group id never share one", () =>
    Effect.gen(function*() {
      const a = makeGroups("default")
      const b = makeGroups("eu")
      const live = { cfg: patterns, settings: safe }
      assert.deepStrictEqual(yield* a.groups.admit(message("@claw hi"), live), answered)
      assert.deepStrictEqual(yield* b.groups.admit(message("@claw hi"), live), answered)
      assert.strictEqual(a.routes[0]!.sessionKey, "agent:main:instaclaw:group:default:grp_1")
      assert.strictEqual(b.routes[0]!.sessionKey, "agent:main:instaclaw:group:eu:grp_1")
    }))

  it("group ids that differ only in case get different session peers (OpenClaw lower-cases them)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (left, right) =>
        left === right || Groups.groupPeerId("default", left).toLowerCase() !== Groups.groupPeerId("default", right).toLowerCase())
    )
    assert.strictEqual(Groups.groupPeerId("eu", "grp_1"), "eu:grp_1", "a lower-case id reads as it is")
    assert.strictEqual(Groups.groupPeerId("eu", "Grp^1"), "eu:^grp^^1")
  })

  it.effect("sessionScope host leaves OpenClaw's session.groupScope in charge; conversation asks for a session per group", () =>
    Effect.gen(function*() {
      const { groups, routes } = makeGroups()
      const cfg = { ...patterns, session: { groupScope: "main" } }
      yield* groups.admit(message("@claw one"), { cfg, settings: safe })
      yield* groups.admit(message("@claw two"), { cfg, settings: { ...safe, sessionScope: "host" } })
      assert.deepStrictEqual(routes.map((route) => route.sessionKey), ["agent:main:instaclaw:group:default:grp_1", "agent:main:main"])
    }))
})

describe("policy", () => {
  const live = { cfg: patterns, settings: safe }

  it.effect("by default no group is answered: groupPolicy allowlist with nobody in groupAllowFrom", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const admission = yield* groups.admit(message("@claw hello"), { cfg: patterns, settings: settings() })
      assert.isTrue(isSkip(admission))
      assert.include(admission.reason, "refused: nobody is in groupAllowFrom (group_policy_empty_allowlist)")
    }))

  it.effect("groupPolicy disabled refuses even a listed sender who mentions the agent", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const admission = yield* groups.admit(message("@claw hello"), { cfg: patterns, settings: { ...safe, groupPolicy: "disabled" } })
      assert.include(admission.reason, "group_policy_disabled")
    }))

  it.effect("a sender outside groupAllowFrom is refused, mention or not, and is not kept as history", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const admission = yield* groups.admit(message("@claw let me in", { senderId: "user_mallory" }), live)
      assert.include(admission.reason, "refused: the sender is not in groupAllowFrom")
      assert.deepStrictEqual(yield* groups.admit(message("@claw hi"), live), answered)
      const turn = yield* groups.turn(message("@claw hi", { responseId: "resp_unknown" }), live)
      assert.deepStrictEqual(turn?.history, [], "nothing of the refused sender")
    }))

  it.effect("groups listed without this group: refused (allowlist); \"*\" lets every group in", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const only = { ...safe, groups: { grp_other: { requireMention: false } } }
      assert.include((yield* groups.admit(message("@claw hi"), { cfg: patterns, settings: only })).reason, "route_blocked")
      assert.deepStrictEqual(yield* groups.admit(message("@claw hi"), live), answered)
    }))

  it.effect("a group's own allowFrom replaces groupAllowFrom there", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const own = { ...safe, groups: { grp_1: { allowFrom: ["user_carol"] } } }
      assert.isTrue(isSkip(yield* groups.admit(message("@claw hi"), { cfg: patterns, settings: own })), "Ada is not in this group's list")
      assert.deepStrictEqual(yield* groups.admit(message("@claw hi", { senderId: "user_carol" }), { cfg: patterns, settings: own }), answered)
    }))

  it.effect("groupPolicy open answers any sender in any group, still only when mentioned", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const open = { cfg: patterns, settings: settings({ groupPolicy: "open" }) }
      assert.deepStrictEqual(yield* groups.admit(message("@claw hi", { senderId: "user_zed" }), open), answered)
      assert.include((yield* groups.admit(message("just chatting", { senderId: "user_zed" }), open)).reason, "activation_skipped")
    }))

  it.effect("requireMention false answers every message of the group", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const always = { cfg: {}, settings: { ...safe, groups: { grp_1: { requireMention: false } } } }
      assert.deepStrictEqual(yield* groups.admit(message("no mention at all"), always), answered)
    }))

  it.effect("the mentioned header decides when the server sends it; otherwise the host's mention patterns", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      assert.deepStrictEqual(yield* groups.admit(message("hello", { mentioned: true }), live), answered, "the header says so")
      assert.isTrue(isSkip(yield* groups.admit(message("@claw hello", { mentioned: false }), live)), "the header wins over the text")
      assert.deepStrictEqual(yield* groups.admit(message("hey @claw"), live), answered, "the pattern matches")
      assert.isTrue(isSkip(yield* groups.admit(message("hey there"), live)))
    }))

  it.effect("with no header and no pattern a mention cannot be told: not answered, and a warning says what to set, once", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const [first, lines] = yield* logged(Effect.all([groups.admit(message("@claw hi"), { cfg: {}, settings: safe }), groups.admit(message("@claw again"), { cfg: {}, settings: safe })]))
      assert.isTrue(first.every(isSkip))
      const warnings = lines.filter((line) => line.startsWith("Warn"))
      assert.strictEqual(warnings.length, 1, lines.join("\n"))
      assert.include(warnings[0], "messages.groupChat.mentionPatterns")
    }))

  it.effect("a reply to one of the agent's own messages counts as a mention", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const reply = message("and what about tomorrow?", { replyToId: "resp_agent_1", replyToAgent: true })
      assert.deepStrictEqual(yield* groups.admit(reply, live), answered)
      assert.isTrue(isSkip(yield* groups.admit(message("and what about tomorrow?", { replyToId: "resp_someone" }), live)), "a reply to someone else does not")
    }))

  it.effect("/stop from a listed sender passes without a mention, command authorized; from anyone else it is refused", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const stop = message("/stop")
      assert.deepStrictEqual(yield* groups.admit(stop, live), answered)
      const turn = yield* groups.turn(stop, live)
      assert.isTrue(turn?.access.commandAuthorized)
      const open = { cfg: patterns, settings: settings({ groupPolicy: "open" }) }
      assert.include((yield* groups.admit(message("/stop", { senderId: "user_zed" }), open)).reason, "control_command_unauthorized")
      const activation = message("/activation always", { senderId: "user_zed", conversationId: "grp_2" })
      assert.include((yield* groups.admit(activation, open)).reason, "control_command_unauthorized")
    }))

  it.effect("a group's stored /activation wins over its requireMention; a store that cannot be read counts as none", () =>
    Effect.gen(function*() {
      const withStored = (activation: Groups.StoredActivation) =>
        Groups.make({
          accountId: "default",
          resolveRoute: (params) => resolveAgentRoute(params as Parameters<typeof resolveAgentRoute>[0]),
          ingress: { resolveStable: resolveStableChannelMessageIngress },
          activation
        })
      const asked: Array<string> = []
      const always = withStored((agentId, sessionKey) => {
        asked.push(`${agentId} ${sessionKey}`)
        return "always"
      })
      assert.deepStrictEqual(yield* always.admit(message("no mention"), live), answered)
      assert.deepStrictEqual(asked, ["main agent:main:instaclaw:group:default:grp_1"], "read for the group's own session")
      const mention = withStored(() => "mention")
      const relaxed = { cfg: patterns, settings: { ...safe, groups: { grp_1: { requireMention: false } } } }
      assert.isTrue(isSkip(yield* mention.admit(message("no mention"), relaxed)))
      const broken = withStored(() => {
        throw new Error("store locked")
      })
      assert.isTrue(isSkip(yield* broken.admit(message("no mention"), live)))
      assert.deepStrictEqual(yield* broken.admit(message("no mention"), relaxed), answered)
    }))

  it.effect("direct-chat access does not open a group: allowFrom [\"*\"] and an approved pairing are not asked", () =>
    Effect.gen(function*() {
      const reads: Array<unknown> = []
      const groups = Groups.make({
        accountId: "default",
        resolveRoute: (params) => resolveAgentRoute(params as Parameters<typeof resolveAgentRoute>[0]),
        ingress: {
          resolveStable: (params) => {
            reads.push(params.readStoreAllowFrom, params.allowFrom)
            return resolveStableChannelMessageIngress(params)
          }
        }
      })
      assert.isTrue(isSkip(yield* groups.admit(message("@claw hi", { senderId: "user_paired" }), live)))
      assert.deepStrictEqual(reads, [undefined, []])
    }))

  it.effect("a direct chat is always admitted: its access is decided as before, in the reply", () =>
    Effect.gen(function*() {
      const { groups, routes } = makeGroups()
      const { chatType: _, ...direct } = message("hi")
      assert.deepStrictEqual(yield* groups.admit(direct, { cfg: {}, settings: settings({ groupPolicy: "disabled" }) }), answered)
      assert.isUndefined(yield* groups.turn(direct, { cfg: {}, settings: safe }))
      assert.strictEqual(routes.length, 0)
    }))
})

describe("history and the log", () => {
  const live = { cfg: patterns, settings: safe }

  it.effect("unmentioned lines are kept, with who wrote them, and given to the next answer; then the history starts over", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      yield* groups.admit(message("the meeting moved to 3pm"), live)
      yield* groups.admit(message("ok", { senderId: "user_bob", senderName: undefined }), live)
      const asked = message("@claw when is the meeting?")
      yield* groups.admit(asked, live)
      const turn = yield* groups.turn(asked, live)
      assert.deepStrictEqual(turn?.history?.map((entry) => [entry.sender, entry.body]), [["Ada (user_ada)", "the meeting moved to 3pm"], ["user_bob", "ok"]])
      const next = message("@claw thanks")
      yield* groups.admit(next, live)
      assert.deepStrictEqual((yield* groups.turn(next, live))?.history, [])
    }))

  it.effect("historyLimit keeps the latest lines; 0 keeps none; a long line is cut", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const two = { cfg: patterns, settings: { ...safe, historyLimit: 2 } }
      for (const text of ["one", "two", "x".repeat(Groups.HISTORY_LINE_LIMIT + 50)]) yield* groups.admit(message(text), two)
      const asked = message("@claw?")
      yield* groups.admit(asked, two)
      const kept = (yield* groups.turn(asked, two))?.history?.map((entry) => entry.body)
      assert.deepStrictEqual(kept?.map((body) => body.length), [3, Groups.HISTORY_LINE_LIMIT + 1])
      const none = { cfg: patterns, settings: { ...safe, historyLimit: 0 } }
      yield* groups.admit(message("forgotten"), none)
      const again = message("@claw?")
      yield* groups.admit(again, none)
      assert.isUndefined((yield* groups.turn(again, none))?.history)
    }))

  it.effect("without historyLimit, OpenClaw's messages.groupChat.historyLimit applies, else 50", () =>
    Effect.sync(() => {
      assert.strictEqual(Groups.historyLimitOf({ historyLimit: undefined }, { messages: { groupChat: { historyLimit: 7 } } }), 7)
      assert.strictEqual(Groups.historyLimitOf({ historyLimit: undefined }, {}), 50)
      assert.strictEqual(Groups.historyLimitOf({ historyLimit: 3 }, { messages: { groupChat: { historyLimit: 7 } } }), 3)
    }))

  it.effect("each group keeps its own history; the reason for a skip is given once per group", () =>
    Effect.gen(function*() {
      const { groups } = makeGroups()
      const first = yield* groups.admit(message("secret of grp_1"), live)
      const second = yield* groups.admit(message("more of grp_1"), live)
      const other = yield* groups.admit(message("chat in grp_2", { conversationId: "grp_2" }), live)
      assert.include(first.reason, "the agent was not mentioned (activation_skipped); kept as context")
      assert.isUndefined(second.reason)
      assert.include(other.reason, "activation_skipped")
      const asked = message("@claw?", { conversationId: "grp_2" })
      yield* groups.admit(asked, live)
      assert.deepStrictEqual((yield* groups.turn(asked, live))?.history?.map((entry) => entry.body), ["chat in grp_2"])
    }))

  it.effect("a reply tag names the current message by its messageId; the wire wants its response id", () =>
    Effect.sync(() => {
      const request = { messageId: "msg_9", responseId: "resp_9" }
      assert.strictEqual(Groups.quotedBy(request, "msg_9"), "resp_9")
      assert.strictEqual(Groups.quotedBy(request, "resp_other"), "resp_other")
      assert.isUndefined(Groups.quotedBy(request, undefined))
      assert.isUndefined(Groups.quotedBy(request, " "))
    }))
})

describe("through the OpenClaw agent, against the fake host", () => {
  /** The agent for the default account under the README's group setup; the host answers each message. */
  const agentFor = (deliverWith: (ctx: Record<string, unknown>) => Record<string, unknown> = (ctx) => ({ text: `answer to ${String(ctx.RawBody)}` })) => {
    const host = fakeRuntime(async ({ ctx, deliver }) => void (await deliver(deliverWith(ctx), { kind: "final" })))
    const agent = OpenClawAgent.make({
      channel: host.channel,
      cfg: patterns,
      accountId: "default",
      live: () => ({ cfg: patterns, settings: { systemPrompt: undefined, dmPolicy: "open", allowFrom: ["*"], ...safe } })
    })
    return { host, agent }
  }
  const answer = (agent: ReturnType<typeof agentFor>["agent"], request: AgentRequest) =>
    Effect.flatMap(agent.admit!(request), (admission) =>
      admission.decision === "skip" ? Effect.succeed(undefined) : Stream.runCollect(agent.reply(request)))

  it.effect("a skipped message never reaches the host; the next answer carries it as history, with the group's context fields", () =>
    Effect.gen(function*() {
      const { agent, host } = agentFor()
      assert.isUndefined(yield* answer(agent, message("the meeting moved to 3pm")))
      assert.strictEqual(host.contexts.length, 0, "nothing was dispatched")
      const asked = message("@claw when is it?", { senderId: "user_bob", senderName: "Bob", replyToId: "resp_earlier", replyToText: "the meeting is at 2pm" })
      assert.deepStrictEqual(yield* answer(agent, asked), ["answer to @claw when is it?"])
      const ctx = host.contexts[0]!
      assert.deepInclude(ctx, {
        ChatType: "group",
        GroupSubject: "Team",
        ConversationLabel: "Team",
        SenderName: "Bob",
        SenderId: "user_bob",
        From: "instaclaw:group:grp_1",
        SessionKey: "agent:main:instaclaw:group:default:grp_1",
        WasMentioned: true,
        ReplyToId: "resp_earlier",
        ReplyToBody: "the meeting is at 2pm",
        CommandAuthorized: true // Bob is in groupAllowFrom: his commands count
      })
      assert.deepStrictEqual((ctx.InboundHistory as Array<{ sender: string; body: string }>).map((entry) => [entry.sender, entry.body]), [["Ada (user_ada)", "the meeting moved to 3pm"]])
    }))

  it.effect("the agent's reply tag quotes the message it answers: a ReplyTo piece with the message's response id", () =>
    Effect.gen(function*() {
      const asked = message("@claw quote me")
      const { agent } = agentFor(() => ({ text: "Quoted.", replyToId: asked.messageId }))
      assert.deepStrictEqual(yield* answer(agent, asked), [{ _tag: "ReplyTo", replyToId: asked.responseId }, "Quoted."])
    }))

  it.effect("with no live config, the group settings the account started with apply", () =>
    Effect.gen(function*() {
      const host = fakeRuntime(async ({ deliver }) => void (await deliver({ text: "ok" }, { kind: "final" })))
      const started = (groupSettings?: Omit<Groups.GroupSettings, "sessionScope">) =>
        OpenClawAgent.make({ channel: host.channel, cfg: patterns, accountId: "default", ...(groupSettings === undefined ? {} : { groupSettings }) })
      assert.deepStrictEqual(yield* answer(started(safe), message("@claw hi")), ["ok"])
      assert.isUndefined(yield* answer(started(), message("@claw hi")), "none given: the defaults, no group answered")
    }))

  it.effect("asked to reply without admission, an unmentioned group message is still not dispatched", () =>
    Effect.gen(function*() {
      const { agent, host } = agentFor()
      assert.deepStrictEqual(yield* Stream.runCollect(agent.reply(message("no mention"))), [])
      assert.strictEqual(host.contexts.length, 0)
    }))

  it.effect("a direct chat is admitted and its context is as before: no group fields, its own session", () =>
    Effect.gen(function*() {
      const { agent, host } = agentFor()
      const { chatType: _chat, groupName: _name, ...direct } = message("hello", { conversationId: "conv_1" })
      assert.deepStrictEqual(yield* answer(agent, direct), ["answer to hello"])
      const ctx = host.contexts[0]!
      assert.deepInclude(ctx, { ChatType: "direct", From: "instaclaw:user_ada", SessionKey: "agent:main:instaclaw:direct:conv_1" })
      for (const key of ["GroupSubject", "InboundHistory", "WasMentioned", "ReplyToId", "ReplyToBody"]) assert.isUndefined(ctx[key], key)
    }))
})

describe("the channel plugin", () => {
  it("says it takes group chats; replies quote only by the agent's own tag; the host asks each group's requireMention", () => {
    const plugin = Channel.makeChannelPlugin()
    assert.includeMembers([...plugin.capabilities.chatTypes], ["direct", "group"])
    assert.strictEqual(plugin.threading?.resolveReplyToMode?.({ cfg: {} as never, accountId: "default", chatType: "group" }), "off")
    const cfg = { channels: { instaclaw: { clientId: "app", clientSecret: "secret", groups: { "*": { requireMention: true }, grp_open: { requireMention: false } } } } } as never
    const ask = (groupId: string) => plugin.groups?.resolveRequireMention?.({ cfg, accountId: "default", groupId })
    assert.deepStrictEqual([ask("grp_open"), ask("grp_other")], [false, true])
  })


  it("group settings are read at each message: changing them needs no restart", () => {
    const noop = Channel.makeChannelPlugin().reload!.noopPrefixes!
    for (const key of ["groupPolicy", "groupAllowFrom", "groups", "historyLimit"]) {
      assert.includeMembers([...noop], [`channels.instaclaw.${key}`, `channels.instaclaw.accounts.*.${key}`])
    }
  })
})

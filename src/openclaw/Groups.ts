/**
 * Group chats through OpenClaw (docs/PROTOCOL.md §8.2): which agent session a group message goes
 * to, whether it is answered at all, and what the agent is told besides its text.
 *
 * - Route: one session per account AND group. OpenClaw's group session keys
 *   (`agent:<agent>:<channel>:group:<peer>`) carry no account id and lower-case the peer, so the
 *   peer is the account id and the group id with its capitals marked (`groupPeerId`).
 * - Admission (`admit`, before any frame goes out): the group settings through the host's ingress
 *   resolver (`Access.decideGroupAccess`) with the mention facts — the server's `mentioned`
 *   header, else the host's mention patterns; a reply to one of the agent's own messages is an
 *   implicit mention; a group's stored `/activation` mode wins over its `requireMention`. A message
 *   not answered for want of a mention is kept as the group's history, given to the agent with its
 *   next answer (`historyLimit`); a refused one is not kept.
 * - The answered turn (route, the resolver's result, the history until then) goes from `admit` to
 *   the reply: messages are admitted in their group's order, and a later one may be admitted
 *   before the reply to an earlier one begins, so history is taken at admission.
 *
 * Gotchas: the host's mention gate answers everything when it cannot tell a mention (no header,
 * no pattern). Here such a message counts as not mentioned — a group that requires a mention
 * stays quiet, and a warning says what to configure.
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import type { OpenClawConfig } from "openclaw/plugin-sdk/channel-core"
import {
  buildMentionRegexes,
  type BuildChannelInboundEventContextParams,
  type InboundMentionFacts,
  matchesMentionWithExplicit
} from "openclaw/plugin-sdk/channel-inbound"
import { resolveChannelImplicitMentions } from "openclaw/plugin-sdk/channel-ingress-runtime"
import { createChannelHistoryWindow, DEFAULT_GROUP_HISTORY_LIMIT, type HistoryEntry } from "openclaw/plugin-sdk/reply-history"
import type { Admission, AgentRequest } from "../Agent.ts"
import { RecentSet } from "../internal/recent.ts"
import { settings as table } from "../Settings.ts"
import { decideGroupAccess, type GroupAccess, type GroupEntry, type HostIngress } from "./Access.ts"
import { CHANNEL_ID } from "./ChannelSchema.ts"

/** The settings groups read, at each message. */
export interface GroupSettings {
  readonly groupPolicy: "open" | "allowlist" | "disabled"
  readonly groupAllowFrom: ReadonlyArray<string>
  readonly groups: Readonly<Record<string, GroupEntry>>
  readonly historyLimit: number | undefined
  readonly sessionScope: "conversation" | "host"
}

/** The table's defaults: no group is answered. */
export const defaultGroupSettings: Omit<GroupSettings, "sessionScope"> = {
  groupPolicy: table.groupPolicy.default,
  groupAllowFrom: table.groupAllowFrom.default,
  groups: table.groups.default,
  historyLimit: table.historyLimit.default
}

/** The part of OpenClaw's `resolveAgentRoute` groups use. */
export type ResolveRoute = (params: {
  readonly cfg: any
  readonly channel: string
  readonly accountId?: string | null
  readonly peer?: { readonly kind: "direct" | "group"; readonly id: string } | null
  readonly dmScope?: "main" | "per-peer" | "per-channel-peer" | "per-account-channel-peer"
  readonly groupScope?: "per-group" | "main"
}) => { readonly sessionKey: string; readonly agentId: string }

/** A group's own entry: its id, else `"*"`. Only own keys count (`groups` is user data). */
export const groupEntry = (groups: GroupSettings["groups"], groupId: string): GroupEntry | undefined =>
  Object.hasOwn(groups, groupId) ? groups[groupId] : Object.hasOwn(groups, "*") ? groups["*"] : undefined

/** Whether the group answers only when the agent is mentioned (default: yes). */
export const requiresMention = (groups: GroupSettings["groups"], groupId: string): boolean =>
  groupEntry(groups, groupId)?.requireMention ?? true

/**
 * The route peer of a group: the account id (OpenClaw's ids are lower-case, no `:`) and the group
 * id, each character that lower-casing would change marked with `^` — so neither two accounts nor
 * two ids that differ only in case share a session key. A `^` of the id is doubled.
 */
export const groupPeerId = (accountId: string, groupId: string): string =>
  `${accountId}:${
    Array.from(groupId, (char) =>
      char === "^"
        ? "^^"
        : /^[A-Z]$/.test(char)
        ? `^${char.toLowerCase()}`
        : char.toLowerCase() === char
        ? char
        : `^{${char.codePointAt(0)!.toString(16)}}`).join("")
  }`

/** Unanswered group messages kept per group: OpenClaw's `messages.groupChat.historyLimit`, else its default. */
export const historyLimitOf = (settings: Pick<GroupSettings, "historyLimit">, cfg: unknown): number => {
  if (settings.historyLimit !== undefined) return settings.historyLimit
  const host = (cfg as { readonly messages?: { readonly groupChat?: { readonly historyLimit?: unknown } } } | undefined)?.messages?.groupChat?.historyLimit
  return typeof host === "number" && Number.isInteger(host) && host >= 0 ? host : DEFAULT_GROUP_HISTORY_LIMIT
}

/** How a sender is named to the agent: name and id, so it knows who said what. */
export const senderLabel = (request: Pick<AgentRequest, "senderId" | "senderName">): string =>
  request.senderName === undefined || request.senderName === request.senderId
    ? request.senderId
    : `${request.senderName} (${request.senderId})`

/**
 * An unanswered line is context only: it is cut to this many characters, so a group's history stays
 * small however much is written there.
 */
export const HISTORY_LINE_LIMIT = 2000

/** Mention facts for the resolver, and whether a mention could be told at all. */
export const mentionFacts = (
  request: Pick<AgentRequest, "conversationId" | "text" | "mentioned" | "replyToAgent">,
  cfg: unknown,
  agentId: string
): { readonly facts: InboundMentionFacts; readonly detectable: boolean } => {
  const implicitMentionKinds = request.replyToAgent === true ? ["reply_to_bot" as const] : []
  if (request.mentioned !== undefined) {
    return { facts: { canDetectMention: true, wasMentioned: request.mentioned, implicitMentionKinds }, detectable: true }
  }
  const mentionRegexes = buildMentionRegexes(cfg as OpenClawConfig, agentId, { provider: CHANNEL_ID, conversationId: request.conversationId })
  const detectable = mentionRegexes.length > 0
  // Undetectable counts as not mentioned (see the module's Gotchas).
  const wasMentioned = detectable && matchesMentionWithExplicit({ text: request.text, mentionRegexes })
  return { facts: { canDetectMention: true, wasMentioned, implicitMentionKinds }, detectable }
}

/** A group message that is answered: everything its reply needs from admission. */
export interface GroupTurn {
  readonly route: { readonly sessionKey: string; readonly agentId: string }
  readonly peerId: string
  readonly access: Extract<GroupAccess, { readonly _tag: "Allow" }>
  readonly facts: InboundMentionFacts
  readonly requireMention: boolean
  /** The group's unanswered messages since the agent's last answer there, oldest first. */
  readonly history: ReadonlyArray<HistoryEntry> | undefined
}

/** What the inbound context says of a message's chat, and of the message it replies to. */
export const contextFacts = (request: AgentRequest, turn: GroupTurn | undefined) => {
  const id = request.conversationId
  const quote = request.replyToId === undefined
    ? undefined
    : { id: request.replyToId, ...(request.replyToText === undefined ? {} : { body: request.replyToText }) }
  const reply = { to: `${CHANNEL_ID}:${id}`, originatingTo: id, ...(request.replyToId === undefined ? {} : { replyToId: request.replyToId }) }
  if (turn === undefined) {
    return { from: `${CHANNEL_ID}:${request.senderId}`, conversation: { kind: "direct" as const, id }, reply, quote }
  }
  const { facts } = turn
  return {
    from: `${CHANNEL_ID}:group:${id}`,
    conversation: { kind: "group" as const, id, label: request.groupName ?? id, routePeer: { kind: "group" as const, id: turn.peerId } },
    reply,
    quote,
    inboundHistory: turn.history === undefined ? undefined : [...turn.history],
    mentions: {
      canDetectMention: facts.canDetectMention,
      wasMentioned: turn.access.wasMentioned,
      ...(facts.implicitMentionKinds === undefined ? {} : { implicitMentionKinds: [...facts.implicitMentionKinds] }),
      requireMention: turn.requireMention,
      effectiveWasMentioned: turn.access.wasMentioned
    } satisfies NonNullable<NonNullable<BuildChannelInboundEventContextParams["access"]>["mentions"]>
  }
}

/**
 * The `replyToId` for a reply the agent tagged (`[[reply_to_current]]`, `[[reply_to:<id>]]`): the
 * host names the current message by its `MessageSid` (the envelope's messageId), the wire by its
 * response id.
 */
export const quotedBy = (request: Pick<AgentRequest, "messageId" | "responseId">, hostReplyToId: string | undefined): string | undefined =>
  hostReplyToId === undefined || hostReplyToId.trim() === ""
    ? undefined
    : hostReplyToId === request.messageId
    ? request.responseId
    : hostReplyToId

/** How many answered turns may wait between their admission and their reply. */
const TURNS_WAITING = 1000
/** How many (group, reason) pairs the debug log remembers having explained. */
const REASONS_REMEMBERED = 10_000

export interface Groups {
  /** Whether a message is answered; a direct chat's always is. */
  readonly admit: (request: AgentRequest, live: { readonly cfg: unknown; readonly settings: GroupSettings }) => Effect.Effect<Admission>
  /**
   * The answered turn of a group message: the one `admit` prepared, or (when the agent is asked to
   * reply without admission) decided now. `undefined`: not answered.
   */
  readonly turn: (
    request: AgentRequest,
    live: { readonly cfg: unknown; readonly settings: GroupSettings }
  ) => Effect.Effect<GroupTurn | undefined>
}

/**
 * The mode a group's `/activation` stored in its session (OpenClaw's `groupActivation`): it wins
 * over the group's `requireMention`, as on OpenClaw's own channels that consult it.
 */
export type StoredActivation = (agentId: string, sessionKey: string) => "mention" | "always" | undefined

/** The groups of one account. */
export const make = (host: {
  readonly accountId: string
  readonly resolveRoute: ResolveRoute
  readonly ingress: HostIngress
  readonly activation?: StoredActivation | undefined
}): Groups => {
  const historyMap = new Map<string, Array<HistoryEntry>>()
  const history = createChannelHistoryWindow({ historyMap })
  const waiting = new Map<string, GroupTurn>()
  const explained = new RecentSet(REASONS_REMEMBERED)
  /** The reason, the first time it applies to the group; then nothing (one debug line per group and reason). */
  const once = (groupId: string, reason: string) => (explained.add(`${groupId}\u0000${reason}`) ? reason : undefined)

  const decide = Effect.fnUntraced(function*(request: AgentRequest, live: { readonly cfg: unknown; readonly settings: GroupSettings }) {
    const { cfg, settings } = live
    const groupId = request.conversationId
    const peerId = groupPeerId(host.accountId, groupId)
    const route = host.resolveRoute({
      cfg,
      channel: CHANNEL_ID,
      accountId: host.accountId,
      peer: { kind: "group", id: peerId },
      ...(settings.sessionScope === "host" ? {} : { groupScope: "per-group" as const })
    })
    const entry = groupEntry(settings.groups, groupId)
    const stored = storedActivation(host.activation, route)
    const requireMention = stored === "always" ? false : stored === "mention" ? true : entry?.requireMention ?? true
    const mention = mentionFacts(request, cfg, route.agentId)
    const access = yield* decideGroupAccess({
      accountId: host.accountId,
      senderId: request.senderId,
      groupId,
      groupName: request.groupName,
      text: request.text,
      groupPolicy: settings.groupPolicy,
      groupAllowFrom: settings.groupAllowFrom,
      groupsListed: Object.keys(settings.groups).length > 0,
      entry,
      requireMention,
      mentionFacts: mention.facts,
      implicitMentions: resolveChannelImplicitMentions({ cfg: cfg as OpenClawConfig, channel: CHANNEL_ID, accountId: host.accountId }),
      ingress: host.ingress,
      contextBinding: { agentId: route.agentId, sessionKey: route.sessionKey, messageId: request.messageId, inboundEventKind: "user_request" }
    })
    const limit = historyLimitOf(settings, cfg)
    if (access._tag === "Skip") {
      if (!mention.detectable && explained.add(`${groupId}\u0000undetectable`)) {
        yield* Effect.logWarning(
          `Group ${groupId} requires a mention, but the server does not say whom a message mentions and OpenClaw has no mention pattern: ` +
            `only replies to the agent are answered there. Set messages.groupChat.mentionPatterns, or groups.<id>.requireMention: false`
        )
      }
      history.record({ historyKey: groupId, limit, entry: yield* historyEntry(request) })
      return { _tag: "Skip" as const, reason: `${access.reason}; kept as context` }
    }
    if (access._tag === "Refuse") return { _tag: "Skip" as const, reason: `refused: ${access.reason}` }
    const past = history.buildInboundHistory({ historyKey: groupId, limit })
    history.clear({ historyKey: groupId, limit })
    const turn: GroupTurn = { route, peerId, access, facts: mention.facts, requireMention, history: past }
    return { _tag: "Answer" as const, turn }
  })

  return {
    admit: (request, live) =>
      request.chatType !== "group"
        ? Effect.succeed({ decision: "answer" })
        : Effect.map(decide(request, live), (decided): Admission => {
          if (decided._tag === "Skip") return { decision: "skip", reason: once(request.conversationId, decided.reason) }
          waiting.set(request.responseId, decided.turn)
          if (waiting.size > TURNS_WAITING) waiting.delete(waiting.keys().next().value!)
          return { decision: "answer" }
        }),
    turn: (request, live) =>
      Effect.suspend(() => {
        if (request.chatType !== "group") return Effect.succeed(undefined)
        const admitted = waiting.get(request.responseId)
        if (admitted !== undefined) {
          waiting.delete(request.responseId)
          return Effect.succeed(admitted)
        }
        return Effect.map(decide(request, live), (decided) => (decided._tag === "Answer" ? decided.turn : undefined))
      })
  }
}

const historyEntry = (request: AgentRequest) =>
  Effect.map(Clock.currentTimeMillis, (timestamp): HistoryEntry => ({
    sender: senderLabel(request),
    body: request.text.length > HISTORY_LINE_LIMIT ? `${request.text.slice(0, HISTORY_LINE_LIMIT)}…` : request.text,
    timestamp,
    messageId: request.responseId
  }))

/** The stored activation, if the host can tell; a store that cannot be read counts as none. */
const storedActivation = (read: StoredActivation | undefined, route: GroupTurn["route"]) => {
  try {
    return read?.(route.agentId, route.sessionKey)
  } catch {
    return undefined
  }
}

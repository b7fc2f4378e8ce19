/**
 * Who may talk to the agent through InstaClaw, decided the way OpenClaw's own channels decide it:
 * the host's ingress resolver (`runtime.channel.inbound.ingress.resolveStable`) with the account's
 * `dmPolicy` and `allowFrom`, keyed by the InstaClaw `senderId`, and the SDK's pairing challenge.
 *
 * - `open` with `allowFrom: ["*"]` (the default): every InstaClaw user — the service has
 *   authenticated them already;
 * - `allowlist`: only the `senderId`s listed;
 * - `pairing`: a new sender gets a code to send to the operator (`openclaw pairing approve
 *   instaclaw <code>`), then is let in;
 * - `disabled`: nobody.
 *
 * Group chats go through the same resolver with the group settings (`decideGroupAccess`).
 *
 * The same decision says whether the sender's commands (`/stop`, …) are authorized, and an allowed
 * decision carries the resolver's exact result: the inbound context is built with it
 * (`channelIngress`), as the SDK asks.
 *
 * Gotchas: a result that enters the inbound context must be resolved after the route is chosen,
 * bound to that agent, session and message (`contextBinding`), and with the same runtime that
 * builds the context — so the caller passes the host's resolver and the binding in.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type {
  ChannelIngressContextBinding,
  ResolvedChannelMessageIngress,
  ResolvedChannelImplicitMentions,
  ResolveStableChannelMessageIngressParams
} from "openclaw/plugin-sdk/channel-ingress-runtime"
import { createChannelPairingChallengeIssuer } from "openclaw/plugin-sdk/channel-pairing"
import { hasControlCommand } from "openclaw/plugin-sdk/command-detection"
import { CHANNEL_ID } from "./ChannelSchema.ts"

export type DmPolicy = "open" | "allowlist" | "pairing" | "disabled"

/** The reply to a sender whose pairing request already waits for the operator. */
export const pendingPairingReply = "Your request to talk to this assistant is waiting for the operator's approval."

/** The part of OpenClaw's `runtime.channel.pairing` access uses. */
export interface HostPairing {
  readonly readAllowFromStore: (params: { readonly channel: string; readonly accountId: string }) => Promise<Array<string>>
  readonly upsertPairingRequest: (params: {
    readonly channel: string
    readonly id: string
    readonly accountId: string
    readonly meta?: Record<string, string | undefined>
  }) => Promise<{ readonly code: string; readonly created: boolean }>
}

/** The part of OpenClaw's `runtime.channel.inbound.ingress` access uses. */
export interface HostIngress {
  readonly resolveStable: (params: ResolveStableChannelMessageIngressParams) => Promise<ResolvedChannelMessageIngress>
}

export type AccessDecision =
  /** `ingress` is the resolver's result, to be passed on unchanged as the context's `channelIngress`. */
  | { readonly _tag: "Allow"; readonly commandAuthorized: boolean; readonly ingress: ResolvedChannelMessageIngress }
  | { readonly _tag: "Refuse"; readonly reason: string }
  /** `reply` tells the sender how to get in; nothing reaches the agent. */
  | { readonly _tag: "Pair"; readonly reply: string }

export const decideAccess = (params: {
  readonly accountId: string
  readonly senderId: string
  readonly senderName?: string | undefined
  readonly conversationId: string
  readonly text: string
  readonly dmPolicy: DmPolicy
  readonly allowFrom: ReadonlyArray<string>
  readonly pairing?: HostPairing | undefined
  /** The host's resolver: the one whose runtime also builds the inbound context. */
  readonly ingress: HostIngress
  /** The routed agent and session, and the message id, the inbound context will carry. */
  readonly contextBinding: ChannelIngressContextBinding
}): Effect.Effect<AccessDecision> =>
  Effect.promise(async (): Promise<AccessDecision> => {
    const { pairing } = params
    const ingress = await params.ingress.resolveStable({
      channelId: CHANNEL_ID,
      accountId: params.accountId,
      subject: { stableId: params.senderId },
      conversation: { kind: "direct", id: params.conversationId },
      contextBinding: params.contextBinding,
      dmPolicy: params.dmPolicy,
      groupPolicy: "disabled",
      allowFrom: [...params.allowFrom],
      event: { kind: "message", authMode: "inbound", mayPair: params.dmPolicy === "pairing" },
      command: { allowTextCommands: true, hasControlCommand: hasControlCommand(params.text) },
      ...(pairing === undefined
        ? {}
        : { readStoreAllowFrom: ({ accountId }: { readonly accountId: string }) => pairing.readAllowFromStore({ channel: CHANNEL_ID, accountId }) })
    })
    if (ingress.ingress.decision === "allow") return { _tag: "Allow", commandAuthorized: ingress.commandAccess.authorized, ingress }
    if (ingress.ingress.decision === "pairing" && pairing !== undefined) {
      let reply = pendingPairingReply
      const challenge = createChannelPairingChallengeIssuer({
        channel: CHANNEL_ID,
        accountId: params.accountId,
        upsertPairingRequest: ({ id, meta }) =>
          pairing.upsertPairingRequest({ channel: CHANNEL_ID, id, accountId: params.accountId, ...(meta === undefined ? {} : { meta }) })
      })
      await challenge({
        senderId: params.senderId,
        senderIdLine: `Your InstaClaw user id: ${params.senderId}`,
        meta: { name: params.senderName },
        // Only a new request gets the code; a repeated one keeps the reply below.
        sendPairingReply: async (text) => {
          reply = text
        }
      })
      return { _tag: "Pair", reply }
    }
    return { _tag: "Refuse", reason: ingress.ingress.reasonCode }
  })

/** One group's own settings (`groups.<id>` or `groups."*"`). */
export interface GroupEntry {
  readonly requireMention?: boolean | undefined
  readonly allowFrom?: ReadonlyArray<string> | undefined
}

export type GroupAccess =
  /** Answer: `ingress` goes into the inbound context unchanged; `wasMentioned` after implicit mentions and command bypass. */
  | { readonly _tag: "Allow"; readonly commandAuthorized: boolean; readonly wasMentioned: boolean; readonly ingress: ResolvedChannelMessageIngress }
  /** The sender may talk here, but the message does not concern the agent (no mention): context for later. */
  | { readonly _tag: "Skip"; readonly reason: string }
  /** The group or the sender is not allowed, or a control command came from someone who may not give one. */
  | { readonly _tag: "Refuse"; readonly reason: string }

/** The resolver's reason codes, as a sentence for the log. */
const groupReasons: Partial<Record<string, string>> = {
  route_blocked: "the group is not listed under groups",
  group_policy_disabled: "groupPolicy is disabled",
  group_policy_empty_allowlist: "nobody is in groupAllowFrom",
  group_policy_not_allowlisted: "the sender is not in groupAllowFrom (or the group's allowFrom)",
  control_command_unauthorized: "a control command from a sender who may not give one",
  activation_skipped: "the agent was not mentioned"
}

/**
 * A group message through the same resolver, the way OpenClaw's own channels decide one: the
 * group (`groups` keys, under `allowlist`), the sender (`groupAllowFrom`, or the group's own
 * `allowFrom`), control commands (authorized for the senders the group's lists name), then the
 * mention gate (`requireMention`, the mention facts, implicit mentions, command bypass).
 *
 * Gotchas: direct-chat access never counts in a group — no `allowFrom`, no pairing store, no
 * pairing challenge is given to the resolver here.
 */
export const decideGroupAccess = (params: {
  readonly accountId: string
  readonly senderId: string
  readonly groupId: string
  readonly groupName?: string | undefined
  readonly text: string
  readonly groupPolicy: "open" | "allowlist" | "disabled"
  readonly groupAllowFrom: ReadonlyArray<string>
  /** Whether `groups` has any key: under `allowlist` its keys are then the groups allowed. */
  readonly groupsListed: boolean
  /** This group's entry (its id, else `"*"`), if any. */
  readonly entry: GroupEntry | undefined
  readonly requireMention: boolean
  readonly mentionFacts: NonNullable<ResolveStableChannelMessageIngressParams["mentionFacts"]>
  readonly implicitMentions: ResolvedChannelImplicitMentions
  readonly ingress: HostIngress
  readonly contextBinding: ChannelIngressContextBinding
}): Effect.Effect<GroupAccess> =>
  Effect.promise(async (): Promise<GroupAccess> => {
    const { entry } = params
    const ownSenders = entry?.allowFrom === undefined ? undefined : [...entry.allowFrom]
    const result = await params.ingress.resolveStable({
      channelId: CHANNEL_ID,
      accountId: params.accountId,
      subject: { stableId: params.senderId },
      conversation: { kind: "group", id: params.groupId, ...(params.groupName === undefined ? {} : { title: params.groupName }) },
      contextBinding: params.contextBinding,
      dmPolicy: "disabled",
      allowFrom: [],
      groupPolicy: params.groupPolicy,
      groupAllowFrom: [...params.groupAllowFrom],
      ...(params.groupPolicy === "allowlist" && params.groupsListed
        ? {
          route: {
            id: "instaclaw-group",
            allowed: entry !== undefined,
            ...(ownSenders === undefined ? {} : { senderPolicy: "replace" as const, senderAllowFrom: ownSenders })
          }
        }
        : {}),
      mentionFacts: params.mentionFacts,
      policy: { activation: { requireMention: params.requireMention, allowTextCommands: true, implicitMentions: params.implicitMentions } },
      event: { kind: "message", authMode: "inbound", mayPair: false },
      // Command owners in a group: whoever its own allowFrom names (groupAllowFrom counts too).
      command: { allowTextCommands: true, hasControlCommand: hasControlCommand(params.text), commandOwnerAllowFrom: ownSenders ?? [] }
    })
    const { reasonCode, admission } = result.ingress
    const reason = `${groupReasons[reasonCode] ?? reasonCode} (${reasonCode})`
    if (admission === "dispatch") {
      return {
        _tag: "Allow",
        commandAuthorized: result.commandAccess.authorized,
        wasMentioned: result.activationAccess.effectiveWasMentioned ?? false,
        ingress: result
      }
    }
    return admission === "skip" || admission === "observe" ? { _tag: "Skip", reason } : { _tag: "Refuse", reason }
  })

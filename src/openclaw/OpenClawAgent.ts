/**
 * The `Agent` inside an OpenClaw gateway: each completed InstaClaw message goes through the
 * host's runtime — route (`resolveAgentRoute`, peer kind direct, id = conversationId, one
 * session per account and conversation unless `sessionScope: "host"`), access (`Access.ts`, the
 * host's ingress resolver bound to that route), inbound context (`inbound.buildContext` with the
 * sender, `systemPrompt` and the resolver's result), and `dispatchReplyWithBufferedBlockDispatcher`
 * — and every `block`/`final` delivery becomes the next piece of the reply stream, sent on at once
 * (`Deliveries.ts`). A group message is admitted, or skipped, before any frame goes out, and its
 * route and access come from that admission (`Groups.ts`); a reply tag of the agent quotes a message.
 *
 * The host runtime is described structurally (`HostChannelRuntime`) so unit tests can fake it;
 * `src/openclaw/index.ts` checks at compile time that OpenClaw's real runtime fits.
 *
 * Gotchas: OpenClaw's default `session.dmScope` is `main` — every direct chat of every channel in
 * one session, right for one owner, a leak for a service with many users. So the route is asked
 * for `per-account-channel-peer` whatever the host's setting, unless the operator opts out.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Effect, Queue, Stream } from "effect"
import type { BuildChannelInboundEventContextParams, BuiltChannelInboundEventContext } from "openclaw/plugin-sdk/channel-inbound"
import { isAbortRequestText } from "openclaw/plugin-sdk/command-primitives-runtime"
import { Agent, AgentError, type AgentRequest, AgentStopped, type ReplyPiece } from "../Agent.ts"
import { decideAccess, type DmPolicy, type HostIngress, type HostPairing } from "./Access.ts"
import { DeliveryAssembler, ReasoningText } from "./Deliveries.ts"
import * as Groups from "./Groups.ts"
import * as Media from "./Media.ts"

import { CHANNEL_ID } from "./ChannelSchema.ts"

export { CHANNEL_ID, DeliveryAssembler }

/** One reply payload as the host delivers it. */
export interface HostReplyPayload {
  readonly text?: string | undefined
  readonly isError?: boolean | undefined
  /** Media of the reply (the host's place for the agent's `MEDIA:` lines), sent by `Media.ts`. */
  readonly mediaUrl?: string | undefined
  readonly mediaUrls?: ReadonlyArray<string> | undefined
  /** The message the reply quotes, from the agent's reply tag (`[[reply_to_current]]`). */
  readonly replyToId?: string | undefined
}

/** The part of OpenClaw's `runtime.channel` the agent uses. */
export interface HostChannelRuntime {
  readonly routing: { readonly resolveAgentRoute: Groups.ResolveRoute }
  readonly pairing?: HostPairing | undefined
  /** The host's media store, where the media of a user's message are saved (`Media.ts`). */
  readonly media?: Media.HostMediaStore | undefined
  /**
   * The inbound context is built here rather than with `reply.finalizeInboundContext`, which the
   * SDK marks deprecated; the runtime's builder and resolver share one host instance, so a
   * resolver result is accepted by the builder of the same runtime only.
   */
  readonly inbound: {
    readonly ingress: HostIngress
    readonly buildContext: (params: BuildChannelInboundEventContextParams) => BuiltChannelInboundEventContext
  }
  readonly reply: {
    readonly dispatchReplyWithBufferedBlockDispatcher: (params: {
      readonly ctx: any
      readonly cfg: any
      readonly replyOptions?: {
        readonly onPartialReply?: (payload: { readonly text?: string | undefined }) => Promise<void> | void
        readonly onAssistantMessageStart?: () => Promise<void> | void
        readonly onReasoningStream?: (payload: { readonly text?: string | undefined }) => Promise<void> | void
        readonly onToolStart?: (payload: {
          readonly name?: string | undefined
          readonly toolCallId?: string | undefined
          readonly itemId?: string | undefined
          readonly args?: Record<string, unknown> | undefined
        }) => Promise<void> | void
      }
      readonly dispatcherOptions: {
        readonly deliver: (payload: HostReplyPayload, info: { readonly kind: string }) => Promise<unknown>
        readonly onError?: (error: unknown, info: { readonly kind: string }) => void
      }
    }) => Promise<unknown>
  }
}

export interface OpenClawHost {
  readonly channel: HostChannelRuntime
  /** The gateway's config object, passed back to the runtime on every call. */
  readonly cfg: unknown
  readonly accountId: string
  /** `conversation` (default): one agent session per account and conversation; `host`: OpenClaw's `session.dmScope`. */
  readonly sessionScope?: "conversation" | "host" | undefined
  /** Who may talk to the agent (`Access.ts`); default open to every InstaClaw user. */
  readonly dmPolicy?: DmPolicy | undefined
  readonly allowFrom?: ReadonlyArray<string> | undefined
  /** The group settings the account started with, when the host gives no live config. */
  readonly groupSettings?: Omit<Groups.GroupSettings, "sessionScope"> | undefined
  /** Reads a group's stored `/activation` mode from its session (`Groups.ts`). */
  readonly groupActivation?: Groups.StoredActivation | undefined
  /**
   * The current config and this account's settings in it, read at each message: systemPrompt,
   * access and session routing then follow `openclaw config set` without a restart.
   */
  readonly live?: (() => { readonly cfg: unknown; readonly settings: LiveSettings } | undefined) | undefined
}

/** The settings the agent reads at each message (the group ones: `Groups.ts`). */
export interface LiveSettings extends Groups.GroupSettings {
  readonly systemPrompt: string | undefined
  readonly dmPolicy: DmPolicy
  readonly allowFrom: ReadonlyArray<string>
  readonly sessionScope: "conversation" | "host"
}

/** What a sender the access policy refuses is told (in `response.failed`). */
export const accessDeniedMessage = "This assistant is not available to you."

/** What the end user sees when OpenClaw could not run the agent at all. */
export const dispatchFailedMessage = "The assistant could not answer right now. Please try again."

/** The reason a reply stopped by the user's `/stop` gives in `incomplete_details`. */
export const stoppedByUser = "stopped by the user"

/**
 * The OpenClaw agent for one account.
 *
 * Messages reach the host as they arrive (`ordering: "agent"`): OpenClaw queues the runs of one
 * session itself (its `messages.queue` setting), and a `/stop` must reach it while a reply runs.
 */
export const make = (host: OpenClawHost): Agent["Service"] => {
  /** Replies running now, per conversation: each can be stopped. */
  const running = new Map<string, Set<(reason: string) => void>>()
  const groups = Groups.make({
    accountId: host.accountId,
    resolveRoute: host.channel.routing.resolveAgentRoute,
    ingress: host.channel.inbound.ingress,
    activation: host.groupActivation
  })
  /** The current config and settings: live when the host gives them, else those the account started with. */
  const current = (request: AgentRequest): { readonly cfg: unknown; readonly settings: LiveSettings } =>
    host.live?.() ?? {
      cfg: host.cfg,
      settings: {
        systemPrompt: request.systemPrompt,
        dmPolicy: host.dmPolicy ?? "open",
        allowFrom: host.allowFrom ?? ["*"],
        sessionScope: host.sessionScope ?? "conversation",
        ...(host.groupSettings ?? Groups.defaultGroupSettings)
      }
    }
  return Agent.of({
    ordering: "agent",
    // Group messages go through the group rules before any frame goes out; direct ones are answered.
    admit: (request) => Effect.suspend(() => groups.admit(request, current(request))),
    reply: (request: AgentRequest) =>
      Stream.callback<ReplyPiece, AgentError | AgentStopped>((queue) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          // The host calls `deliver` back from its own promises: run what it triggers in this
          // fiber's context (the account's logger among it).
          const runInAccount = Effect.runPromiseWith(yield* Effect.context<never>())
          const { cfg, settings } = current(request)
          // A group message: its route and access were decided at admission (`Groups.ts`).
          const turn = yield* groups.turn(request, { cfg, settings })
          if (request.chatType === "group" && turn === undefined) return yield* Queue.end(queue)
          // The route comes first: the access decision that enters the context is bound to it.
          const route = turn?.route ?? host.channel.routing.resolveAgentRoute({
            cfg,
            channel: CHANNEL_ID,
            accountId: host.accountId,
            peer: { kind: "direct", id: request.conversationId },
            ...(settings.sessionScope === "host" ? {} : { dmScope: "per-account-channel-peer" as const })
          })
          const access = turn?.access ?? (yield* decideAccess({
            accountId: host.accountId,
            senderId: request.senderId,
            senderName: request.senderName,
            conversationId: request.conversationId,
            text: request.text,
            dmPolicy: settings.dmPolicy,
            allowFrom: settings.allowFrom,
            pairing: host.channel.pairing,
            ingress: host.channel.inbound.ingress,
            contextBinding: { agentId: route.agentId, sessionKey: route.sessionKey, messageId: request.messageId, inboundEventKind: "user_request" }
          }))
          if (access._tag === "Refuse") {
            yield* Effect.logWarning(`Refused a message from sender ${request.senderId} (${access.reason})`).pipe(
              Effect.annotateLogs({ conversationId: request.conversationId })
            )
            return yield* new AgentError({ message: accessDeniedMessage, code: "access_denied" })
          }
          if (access._tag === "Pair") {
            yield* Effect.logInfo(`Sender ${request.senderId} asked to pair; approve with: openclaw pairing approve ${CHANNEL_ID} <code>`)
            yield* Queue.offer(queue, access.reply)
            return yield* Queue.end(queue)
          }
          // A user's /stop ends the replies running in this conversation as incomplete, at once;
          // the host, given the same /stop, aborts the agent's run.
          if (access.commandAuthorized && isAbortRequestText(request.text)) {
            for (const stop of running.get(request.conversationId) ?? []) stop(stoppedByUser)
          }
          const stop = (reason: string) => Queue.failCauseUnsafe(queue, Cause.fail(new AgentStopped({ reason })))
          const ownSet = running.get(request.conversationId) ?? new Set()
          running.set(request.conversationId, ownSet.add(stop))
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              ownSet.delete(stop)
              if (ownSet.size === 0 && running.get(request.conversationId) === ownSet) running.delete(request.conversationId)
            })
          )
          // The message's media, saved in the host's store; a notice in the body for each one lost.
          const { accountId, channel } = host
          const received = yield* Media.receive({ text: request.text, media: request.media, messageId: request.messageId, store: channel.media, cfg, accountId })
          // Body, RawBody, BodyForAgent and CommandBody all come from the text; Provider, Surface
          // and OriginatingChannel from the channel; SessionKey from the route. The chat (direct or
          // group, its history and mention facts) and the quoted message: `Groups.contextFacts`.
          const chat = Groups.contextFacts(request, turn)
          const context = host.channel.inbound.buildContext({
            channel: CHANNEL_ID,
            accountId: host.accountId,
            messageId: request.messageId,
            timestamp: now,
            from: chat.from,
            sender: { id: request.senderId, ...(request.senderName === undefined ? {} : { name: request.senderName }) },
            conversation: chat.conversation,
            route: { agentId: route.agentId, routeSessionKey: route.sessionKey },
            reply: chat.reply,
            message: { rawBody: received.body, ...(chat.inboundHistory === undefined ? {} : { inboundHistory: chat.inboundHistory }) },
            ...(received.facts.length === 0 ? {} : { media: received.facts }),
            // Commands (/stop, …) as the access policy says, like OpenClaw's own channels.
            access: { commands: { authorized: access.commandAuthorized }, ...(chat.mentions === undefined ? {} : { mentions: chat.mentions }) },
            // The operator's prompt (GroupSystemPrompt), not user-supplied text; the quoted message.
            ...(settings.systemPrompt === undefined && chat.quote === undefined ? {} : {
              supplemental: {
                ...(settings.systemPrompt === undefined ? {} : { groupSystemPrompt: settings.systemPrompt }),
                ...(chat.quote === undefined ? {} : { quote: chat.quote })
              }
            }),
            channelIngress: access.ingress
          })
          const deliveries = new DeliveryAssembler()
          const media = new Media.ReplyMediaSender(cfg, host.accountId, route.agentId)
          const reasoning = new ReasoningText()
          let toolCalls = 0
          let hostError: string | undefined
          let quoting: string | undefined
          yield* Effect.tryPromise({
            try: () =>
              host.channel.reply.dispatchReplyWithBufferedBlockDispatcher({
                ctx: context,
                cfg,
                // Token streaming: each model chunk goes out as it is produced.
                replyOptions: {
                  onPartialReply: async (payload) => {
                    const piece = deliveries.partial(payload.text)
                    if (piece !== undefined) await runInAccount(Queue.offer(queue, piece))
                  },
                  onAssistantMessageStart: () => deliveries.messageStart(),
                  // Reasoning and tool steps: sent only with the progressEvents setting.
                  onReasoningStream: async (payload) => {
                    const delta = reasoning.next(payload.text)
                    if (delta !== undefined) await runInAccount(Queue.offer(queue, { _tag: "Reasoning", delta }))
                  },
                  onToolStart: async (payload) => {
                    const callId = payload.toolCallId ?? payload.itemId ?? `call_${request.responseId}_${toolCalls++}`
                    await runInAccount(Queue.offer(queue, {
                      _tag: "ToolCall",
                      name: payload.name ?? "tool",
                      arguments: JSON.stringify(payload.args ?? {}),
                      callId
                    }))
                  }
                },
                dispatcherOptions: {
                  deliver: async (payload, info) => {
                    if (payload.isError === true) {
                      hostError = payload.text
                      return
                    }
                    // The agent's reply tag: the reply quotes that message from here on.
                    const quoted = Groups.quotedBy(request, payload.replyToId)
                    if (quoted !== undefined && quoted !== quoting) await runInAccount(Queue.offer(queue, { _tag: "ReplyTo", replyToId: quoting = quoted }))
                    const piece = deliveries.next(info.kind, payload.text)
                    // Waits while the reply stream is behind: the host is paced by the socket.
                    if (piece !== undefined) await runInAccount(Queue.offer(queue, piece))
                    for (const medium of await runInAccount(media.pieces(payload))) await runInAccount(Queue.offer(queue, medium))
                  }
                }
              }),
            catch: (cause) => new AgentError({ message: dispatchFailedMessage, code: "dispatch_failed", cause })
          })
          if (hostError !== undefined) {
            return yield* new AgentError({ message: hostError.trim() || dispatchFailedMessage, code: "agent_error" })
          }
          const unsent = media.unsent(deliveries.text)
          if (unsent !== undefined) yield* Queue.offer(queue, unsent)
          yield* Queue.end(queue)
        })
      )
  })
}

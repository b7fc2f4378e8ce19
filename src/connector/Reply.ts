/**
 * Replies going out. `answer` gives one inbound message to the agent and writes its reply as the
 * agent produces it (`Protocol.writeReply` onto a `Connection.beginResponse` writer, batch by
 * batch, with no stream in between); `send` writes a text the host sends on its own
 * (`Connector.send`). Each reply's start moves the status's `lastOutboundAt`.
 *
 * A reply counts (`Metrics.messagesOut`, `repliesFailed`), and its message is settled (`settled`:
 * acknowledged to a v2 server), once the server has provably read it. Nothing waits for that pong:
 * the conversation's next message goes on at once, and the confirmation is a callback on the
 * response (`ResponseWriter.settle`) that hands the reply to `settling`, one fiber for all of them.
 * A suspended fiber per reply held far more memory than the reply itself, for every reply of a
 * burst (whose pongs queue behind the burst) and, at any moment, for every reply of a steady flow.
 *
 * Before a response begins, the agent may skip the message (`Agent.admit`, in the conversation's
 * turn: `Admission.ts`): nothing is sent for it, and it is settled as delivered (acknowledged).
 * A message replying to one of the replies sent here reaches the agent with `replyToAgent`.
 */
import { Effect, Exit, Latch, Metric, Queue, Stream } from "effect"
import type { Agent, AgentRequest } from "../Agent.ts"
import type { AckTarget, ConnectionError, ResponseWriter } from "../Connection.ts"
import * as Metrics from "../Metrics.ts"
import type { ReplyMedia } from "../Media.ts"
import type { EmptyMessageError, InboundMessage, OutboundFrame, Protocol, Replayable, ReplyOutcome, ReplyPiece } from "../Protocol.ts"
import { makeAdmissions, makeOwnReplies } from "./Admission.ts"
import type { Failures } from "./Failures.ts"
import type { OutboundMedia } from "./Media.ts"

export interface Replies {
  /** Answers one message; never fails (a reply that cannot be sent is counted and logged). */
  readonly answer: (message: InboundMessage) => Effect.Effect<void>
  /** Sends `text` (and `media` after it, §8.1) as one response and waits for the server to have read it. */
  readonly send: (
    conversationId: string,
    text: string,
    media?: ReadonlyArray<ReplyMedia>
  ) => Effect.Effect<{ readonly conversationId: string; readonly responseId: string }, EmptyMessageError | ConnectionError>
  /** Counts and settles each answer the server has read, in the order confirmed; runs for the connector's scope. */
  readonly settling: Effect.Effect<never>
  /** Answers written and not yet settled: waiting for their pong, or for `settling`. */
  readonly unsettled: () => number
  /** Succeeds once `unsettled` is none (for the graceful close). */
  readonly idle: Effect.Effect<void>
}

/** An answer the server has read: what settling it needs, and nothing more. */
interface Confirmed {
  readonly target: AckTarget
  readonly outcome: ReplyOutcome["_tag"]
}

/**
 * The callback that hands a confirmed answer to `settling`. Made here, not where the answer is
 * written: a closure keeps its whole enclosing scope alive (the message, the agent's stream, the
 * writer) until the pong, for every answer a burst has waiting.
 */
const onConfirmed = (queue: Queue.Queue<Confirmed>, answer: Confirmed) => () => void Queue.offerUnsafe(queue, answer)

export const makeReplies = (options: {
  readonly agent: Pick<Agent["Service"], "reply" | "admit">
  readonly systemPrompt: string | undefined
  readonly protocol: Pick<Protocol["Service"], "writeReply" | "streamReply">
  readonly beginResponse: Effect.Effect<ResponseWriter>
  /** The writer for an answer: it waits for a link as long as it takes (`Connection.beginAnswer`). */
  readonly beginAnswer: Effect.Effect<ResponseWriter>
  readonly failures: Failures
  /** A reply starts going out (`Status.markOutbound`). */
  readonly markOutbound: Effect.Effect<void>
  /** A message's reply reached the server (`delivered`), or could not be sent (`Acks.settled`). */
  readonly settled: (message: AckTarget, delivered: boolean) => Effect.Effect<void>
  /** How the agent's media go out (`Media.ts`: inline, uploaded, or a sentence); absent, as they are. */
  readonly media?: OutboundMedia | undefined
}): Effect.Effect<Replies> => Effect.gen(function*() {
  const { agent, protocol, failures, markOutbound } = options
  const admissions = makeAdmissions(agent.admit)
  const ownReplies = makeOwnReplies()

  const couldNotSend = (error: ConnectionError) =>
    Effect.andThen(Metric.update(Metrics.repliesFailed, 1), Effect.logError(`Could not send the reply: ${error.message}`))

  /** Answers the server has read, waiting for `settling`. */
  const confirmed = yield* Queue.unbounded<Confirmed>()
  /** Answers written and not yet settled; `idle` is open while there are none. */
  let unsettled = 0
  const idle = Latch.makeUnsafe(true)

  /** The end of a reply once the server has provably read it: its ack, its count, its warning. */
  const confirm = ({ outcome, target }: Confirmed) =>
    Effect.gen(function*() {
      yield* options.settled(target, true)
      switch (outcome) {
        case "Completed":
          return yield* Metric.update(Metrics.messagesOut, 1)
        case "Stopped":
          return
        case "Failed":
          return yield* Metric.update(Metrics.repliesFailed, 1)
        case "Empty":
          yield* Metric.update(Metrics.repliesFailed, 1)
          return yield* Effect.logWarning("The agent returned an empty reply; sent response.failed")
      }
    })

  /** A message the agent skipped: nothing is sent; it is taken all the same (acknowledged, §7). */
  const skip = (message: InboundMessage, reason: string | undefined) =>
    Effect.andThen(
      Effect.logDebug(`Skipped message ${message.messageId}${reason === undefined ? "" : ` (${reason})`}`),
      options.settled(message, true)
    )

  /** Writes the reply `pieces` to `message`; `begun` once its first frames are written. */
  const respond = Effect.fnUntraced(function*(
    message: InboundMessage,
    pieces: ReturnType<typeof agent.reply>,
    begun: Effect.Effect<void>
  ) {
    yield* Effect.logDebug(`Answering message ${message.messageId} (${message.text.length} characters)`)
    // Each batch of frames goes to the connection as the encoder makes it: no stream in between.
    const response = yield* options.beginAnswer
    let first = true
    const write = (frames: ReadonlyArray<OutboundFrame>, replayable: Replayable) => {
      if (!first) return response.write(frames, replayable)
      first = false
      // Remembered before anyone can have seen the reply, for `replyToAgent`.
      if (frames[0] !== undefined) ownReplies.sent(frames[0].responseId)
      return markOutbound.pipe(Effect.andThen(response.write(frames, replayable)), Effect.andThen(begun))
    }
    const replyOptions = {
      conversationId: message.conversationId,
      describeFailure: failures.describeFailure,
      describeStop: failures.describeStop,
      onSourceFailure: failures.onSourceFailure,
      resolveMedia: options.media?.forReply()
    }
    const sent = yield* Effect.result(
      protocol.writeReply(replyOptions, pieces, write).pipe(Effect.onInterrupt(() => response.abandon))
    )
    if (sent._tag === "Failure") {
      yield* response.abandon
      yield* options.settled(message, false)
      return yield* couldNotSend(sent.failure)
    }
    // Written: the conversation's next message may go to the agent. The pong that proves this
    // reply was read comes later; until it does, every new link gets the reply again (before
    // anything newer), so nobody waits for it — a reader held back by a full queue cannot read
    // that pong, and waiting here for it could stop both for good.
    if (unsettled++ === 0) idle.closeUnsafe()
    response.settle(onConfirmed(confirmed, {
      target: { conversationId: message.conversationId, responseId: message.responseId },
      outcome: sent.success._tag
    }))
  })

  const settling = Effect.forever(
    Effect.flatMap(Queue.takeAll(confirmed), (batch) =>
      Effect.forEach(batch, (answer) =>
        Effect.ensuring(
          confirm(answer),
          Effect.sync(() => {
            if (--unsettled === 0) idle.openUnsafe()
          })
        ), { discard: true }))
  )

  // A span per message, without a stack trace: `Effect.fn` captured an `Error` for the call site
  // of every message (Effect's RPC server makes the same choice for its span per request).
  const answer = Effect.fnUntraced(function*(message: InboundMessage) {
    yield* Metric.update(Metrics.messagesIn, 1)
    // The message as it came (its text, sender, chat, ids), with the configured instructions.
    const request: AgentRequest = ownReplies.mark({ ...message, systemPrompt: options.systemPrompt })
    yield* admissions.inTurn(request, (decision, begun) => {
      if (Exit.isFailure(decision)) return respond(message, Stream.failCause(decision.cause), begun)
      if (decision.value.decision === "skip") return skip(message, decision.value.reason)
      return respond(message, agent.reply(request), begun)
    })
  }, Effect.withSpan("Connector.answer", undefined, { captureStackTrace: false }))

  const send = Effect.fnUntraced(function*(conversationId: string, text: string, media: ReadonlyArray<ReplyMedia> = []) {
    // With media (§8.1) the text may be blank: they follow it, resolved like an agent's.
    const frames = yield* Stream.runCollect(
      media.length === 0
        ? protocol.streamReply({ conversationId }, text)
        : protocol.streamReply({ conversationId, resolveMedia: options.media?.forReply() }, Stream.fromIterable<ReplyPiece>([text, ...media]))
    )
    const responseId = frames[0]?.responseId ?? ""
    ownReplies.sent(responseId)
    const response = yield* options.beginResponse
    yield* markOutbound
    yield* Effect.andThen(response.write(frames), response.finish).pipe(Effect.onExit(() => response.abandon))
    yield* Effect.logDebug(`Sent ${responseId} to ${conversationId} (${text.length} characters)`)
    return { conversationId, responseId }
  })

  return { answer, send, settling, unsettled: () => unsettled, idle: idle.await } satisfies Replies
})

/**
 * The port the connector calls for each completed inbound message: given the message, an
 * `Agent` returns the reply as a `Stream` of text pieces, produced as it thinks — and, if it
 * likes, reasoning and tool steps (`ReplyProgress`), sent with the `progressEvents` setting.
 *
 * Implementations: `Agent.echo` (the demo and tests), the OpenClaw agent (the plugin), and any
 * of your own — `Agent.layer((request) => Stream…)`.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schema, Stream } from "effect"
import type { MediaPart, ReplyMedia } from "./Media.ts"
import type { ReplyPiece } from "./ReplyEncoder.ts"
import type { Origin } from "./Wire.ts"

/** A piece of a reply: text, or (with the `progressEvents` setting) a reasoning or tool step. */
export type { ReplyPiece, ReplyProgress } from "./ReplyEncoder.ts"

/**
 * One completed user message, as the agent sees it: who wrote it and where (`Origin`: the sender,
 * and for a group chat its name, whether the agent was mentioned, the message it replies to).
 */
export interface AgentRequest extends Origin {
  readonly conversationId: string
  /** The message's text; `""` for a message of media only. */
  readonly text: string
  /** Its images, files and videos in order (§8.1); present only when there is one. */
  readonly media?: ReadonlyArray<MediaPart> | undefined
  readonly systemPrompt?: string | undefined
  /** Ids of the inbound message, for dedupe or tracing on the agent's side. */
  readonly messageId: string
  readonly responseId: string
  /**
   * Set when `replyToId` is the response id of one of this connector's own recent replies: the
   * user answers or quotes the agent (§8.2 counts that as a mention).
   */
  readonly replyToAgent?: true | undefined
}

/**
 * Whether a message is answered (`Agent.admit`): `"skip"` sends nothing for it; `reason`, when
 * given, goes to the debug log.
 */
export interface Admission {
  readonly decision: "answer" | "skip"
  readonly reason?: string | undefined
}

/**
 * An agent could not answer. `message` is shown to the end user in `response.failed`, so it
 * must be safe to show: no stack, no secret. Put details in `cause`; they are only logged.
 */
export class AgentError extends Schema.TaggedError<AgentError>()("AgentError", {
  message: Schema.String,
  code: Schema.optionalKey(Schema.String),
  cause: Schema.optionalKey(Schema.Defect())
}) {}

/**
 * The reply was stopped — by the user's `/stop` or by the host — and is not an error: the
 * response ends with `response.incomplete`, `incomplete_details.reason` saying why.
 */
export class AgentStopped extends Schema.TaggedError<AgentStopped>()("AgentStopped", {
  reason: Schema.String
}) {}

export class Agent extends Context.Service<Agent, {
  /**
   * The reply to one message, piece by piece. It may fail with `AgentError` (or die), or end
   * early with `AgentStopped`.
   */
  readonly reply: (request: AgentRequest) => Stream.Stream<ReplyPiece, AgentError | AgentStopped>
  /**
   * Who keeps the replies of one conversation in order. `"connector"` (the default): the next
   * message reaches the agent once the previous reply is done. `"agent"`: each message reaches
   * the agent at once — for agents that queue runs themselves (OpenClaw does, per session) and
   * must see a `/stop` while a reply is running.
   */
  readonly ordering?: "connector" | "agent" | undefined
  /**
   * Called before a message's response begins (absent: every message is answered). On `"skip"`
   * nothing at all is sent for it (no `response.created`), and it is acknowledged as taken (§7) —
   * a group message that does not concern the agent, say. Messages of one conversation are
   * admitted one at a time, in the order they came, under either `ordering`.
   */
  readonly admit?: ((request: AgentRequest) => Effect.Effect<Admission>) | undefined
}>()("insta-claw/Agent") {
  /** An agent from a function. */
  static readonly layer = (reply: (request: AgentRequest) => Stream.Stream<ReplyPiece, AgentError | AgentStopped>): Layer.Layer<Agent> =>
    Layer.succeed(Agent, { reply })

  /** Replies with exactly the text received, streamed word by word, then its media (by URL). */
  static readonly echo: Layer.Layer<Agent> = Agent.layer((request) => Stream.concat(echoReply(request.text), echoMedia(request)))

  /**
   * The echo agent with a pause before each piece, so a person watching sees it stream.
   * The pause uses Effect's clock: `TestClock` controls it.
   */
  static readonly echoPaced = (pause: Duration.Input): Layer.Layer<Agent> =>
    Agent.layer((request) => Stream.concat(echoReply(request.text, pause), echoMedia(request)))
}

/** The echo agent's media: each medium of the request sent back by its URL. */
export const echoMedia = (request: Pick<AgentRequest, "media">): Stream.Stream<ReplyMedia> =>
  Stream.fromIterable((request.media ?? []).map((media): ReplyMedia => ({ _tag: "Media", ...media })))

/** The echo agent's reply: `text` word by word, with an optional pause before each word. */
export const echoReply = (text: string, pause?: Duration.Input): Stream.Stream<string> => {
  const words = Stream.fromIterable(wordsOf(text))
  return pause === undefined ? words : words.pipe(Stream.mapEffect((word) => Effect.as(Effect.sleep(pause), word)))
}

/** Splits text into words with their trailing whitespace; joined they give the text back. */
export const wordsOf = (text: string): Array<string> => text.match(/\S+\s*|\s+/g) ?? []

/**
 * What the inbound assembler (`InboundAssembler.ts`) gives: whole user messages, with their
 * media (§8.1) and who wrote them where (§8.2), and the violations, duplicates and ignored events
 * it reports; and the bounds it works within.
 *
 * @since 0.1.0
 */
import type { MediaPart } from "./Media.ts"
import type { Origin } from "./Wire.ts"

/** A completed user message, delivered exactly once, with who wrote it and where (`Origin`). */
export interface InboundMessage extends Origin {
  readonly conversationId: string
  readonly responseId: string
  /** The `headers.messageId` of the envelope that started the response. */
  readonly messageId: string
  /** The message's text; `""` for a message of media only. */
  readonly text: string
  /** Its images, files and videos in order (§8.1); present only when there is one. */
  readonly media?: ReadonlyArray<MediaPart> | undefined
  /** Unix milliseconds when the message completed. */
  readonly receivedAt: number
}

export type ViolationReason =
  | "MissingConversationId"
  | "MissingResponseId"
  | "UnknownResponse"
  | "EventAfterCompletion"
  | "SequenceNotIncreasing"
  | "ResponseFailed"
  | "Evicted"
  | "TextTooLarge"
  | "IdleTimeout"
  | "IncompleteText"
  | "EmptyMessage"
  /** A media part left out (no URL, a URL not allowed, bytes not of their type, an unknown part type, past the limit); the rest is delivered. */
  | "MediaRefused"

/** An event the assembler refused, or a response it gave up on. Log at warn. */
export interface Violation {
  readonly reason: ViolationReason
  readonly detail: string
  readonly eventType?: string | undefined
  readonly responseId?: string | undefined
  readonly conversationId?: string | undefined
}

export type AssemblerOutput =
  | { readonly _tag: "Message"; readonly message: InboundMessage }
  | { readonly _tag: "Violation"; readonly violation: Violation }
  | {
    readonly _tag: "Duplicate"
    readonly messageId: string
    /** The event's response, type and conversation, when the envelope held a known event. */
    readonly responseId?: string | undefined
    readonly eventType?: string | undefined
    readonly conversationId?: string | undefined
  }
  | { readonly _tag: "Ignored"; readonly eventType: string }

export interface AssemblerLimits {
  /** Responses being assembled at once. */
  readonly maxInFlight: number
  /** UTF-8 bytes of text in one response. */
  readonly maxTextBytes: number
  /** Characters of media URLs (a `data:` URL holds its bytes) in one response. Default `maxTextBytes`. */
  readonly maxMediaBytes?: number | undefined
  /** A response with no event for this long is discarded by `sweep`. */
  readonly idleTimeoutMillis: number
  /** How many message ids and finished response ids are remembered for dedupe. */
  readonly remembered?: number | undefined
}

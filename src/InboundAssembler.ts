/**
 * Inbound: streamed Open Responses events become whole user messages (docs/PROTOCOL.md §4, receiver
 * rules). `InboundAssembler` is a state machine with no I/O and no clock of its own — callers
 * pass `now` — so it is tested exhaustively with fast-check.
 *
 * It never throws. Everything it refuses comes back as a typed `Violation` for the caller to log
 * at warn level; duplicates and ignored events come back too, for debug logging. It acts on
 * every event type of `Wire.KnownEvent` and ignores the rest.
 *
 * @since 0.1.0
 */
import { DedupeGate, type Track } from "./internal/dedupeGate.ts"
import { InboundMedia, isMediaOrUnknownPart, itemHasMedia } from "./internal/inboundMedia.ts"
import { utf8Length } from "./internal/recent.ts"
import type { AssemblerLimits, AssemblerOutput, InboundMessage, Violation, ViolationReason } from "./InboundMessage.ts"
import { isKnownEvent, type KnownEvent, type MessageEnvelope, type Origin, originOf } from "./Wire.ts"

// The assembler's outputs (messages, violations) and limits, a module of their own.
export type * from "./InboundMessage.ts"

interface TextPart {
  deltas: string
  done: string | undefined
}

interface Assembling {
  readonly responseId: string
  readonly conversationId: string
  readonly origin: Origin
  readonly messageId: string
  readonly parts: Map<string, TextPart>
  /** What the dedupe gate knows of this response. */
  readonly track: Track
  /** The part the last text event went to, and its key: deltas of one part come in a row. */
  lastPart: TextPart | undefined
  lastItemId: string | undefined
  lastContentIndex: number | undefined
  lastSequence: number
  /** A sequence number was skipped: deltas may be missing, only `*.done` text can be trusted. */
  gap: boolean
  /** Its media parts, once it has one (a text-only message never makes this). */
  media: InboundMedia | undefined
  bytes: number
  lastActivity: number
}

const STARTS: ReadonlySet<string> = new Set(["response.created", "response.queued", "response.in_progress"])

/** The usual answer to an event, shared: most events complete, refuse and drop nothing. */
const NOTHING: ReadonlyArray<AssemblerOutput> = Object.freeze([])

const violation = (v: Violation): AssemblerOutput => ({ _tag: "Violation", violation: v })

/** A violation that names a response the assembler holds, or held until now. */
const about = (state: Assembling, reason: ViolationReason, detail: string, eventType?: string): AssemblerOutput =>
  violation(eventType === undefined
    ? { reason, detail, responseId: state.responseId, conversationId: state.conversationId }
    : { reason, detail, eventType, responseId: state.responseId, conversationId: state.conversationId })

/** The per-connection inbound state machine. */
export class InboundAssembler {
  private readonly inFlight = new Map<string, Assembling>()
  /** Seen message ids, ended responses, responses answered before a restart. */
  private readonly dedupe: DedupeGate
  private readonly limits: AssemblerLimits

  constructor(limits: AssemblerLimits) {
    this.limits = limits
    this.dedupe = new DedupeGate(limits.remembered ?? 10_000)
  }

  /** Remembers responses completed by an earlier run (from a `DedupeStore`), oldest first. Call before the first `push`. */
  restore(responseIds: Iterable<string>): void {
    this.dedupe.restore(responseIds)
  }

  /** Responses being assembled now. Never more than `maxInFlight`. */
  get inFlightCount(): number {
    return this.inFlight.size
  }

  /** Ids remembered for dedupe. Never more than four times `remembered`. */
  get rememberedCount(): number {
    return this.dedupe.size
  }

  /** Feeds one envelope; returns what it completed, refused or ignored. */
  push(envelope: MessageEnvelope, now: number): ReadonlyArray<AssemblerOutput> {
    const { headers } = envelope
    const conversationId = headers.conversationId
    const event = isKnownEvent(envelope.data) ? envelope.data : undefined
    const responseId = event === undefined ? undefined : event.response_id ?? responseIdOf(event)
    // A response being assembled is neither restored nor ended (both are checked before it
    // starts, and it leaves the table when it ends): the common event needs one lookup.
    const state = responseId === undefined ? undefined : this.inFlight.get(responseId)
    // Dedupe by message id (`internal/dedupeGate.ts`). The gate skips the lookup for the common
    // events, proven new by what they carry, so it hears their response only when the event has
    // a conversation: those are the events that reach the response's checks below.
    const admitted = this.dedupe.admit(
      headers.messageId,
      event !== undefined && conversationId ? responseId : undefined,
      event?.sequence_number,
      state === undefined && event !== undefined && STARTS.has(event.type),
      state?.track
    )
    if (!admitted) return [{ _tag: "Duplicate", messageId: headers.messageId, responseId, eventType: event?.type, conversationId }]

    if (event === undefined) return [{ _tag: "Ignored", eventType: envelope.data.type }]
    const eventType = event.type
    if (conversationId === undefined || conversationId === "") {
      return [violation({ reason: "MissingConversationId", detail: "server envelope without headers.conversationId", eventType, responseId })]
    }
    if (responseId === undefined) {
      return [violation({ reason: "MissingResponseId", detail: "event without response_id or response.id", eventType, conversationId })]
    }
    if (state !== undefined) return this.continue(state, envelope, now)
    const standing = this.dedupe.standing(responseId)
    if (standing === "Restored") return [{ _tag: "Duplicate", messageId: headers.messageId, responseId, eventType, conversationId }]
    if (standing === "Ended") {
      return [violation({ reason: "EventAfterCompletion", detail: "event for a response that already ended", eventType, responseId, conversationId })]
    }
    if (!STARTS.has(eventType)) {
      // Never "after completion" for one dropped unfinished: its completion would be acknowledged
      // as answered (`connector/Inbound.ts`), where its redelivery is awaited.
      const detail = standing === "Dropped" ? "event for a response dropped unfinished; it is assembled again when sent again" : "event for a response that was never started"
      return [violation({ reason: "UnknownResponse", detail, eventType, responseId, conversationId })]
    }
    return this.start(responseId, conversationId, envelope, now)
  }

  /** A new response: its state, and the envelope that started it. */
  private start(responseId: string, conversationId: string, envelope: MessageEnvelope, now: number): ReadonlyArray<AssemblerOutput> {
    const { headers } = envelope
    const track = this.dedupe.begin(responseId, (envelope.data as KnownEvent).sequence_number)
    // A full table evicts its least recently active response: a new message is always accepted.
    const evicted = this.inFlight.size >= this.limits.maxInFlight ? this.evictStalest(now) : undefined
    const state: Assembling = {
      responseId,
      conversationId,
      origin: originOf(headers, conversationId),
      messageId: headers.messageId,
      parts: new Map(),
      track,
      lastPart: undefined,
      lastItemId: undefined,
      lastContentIndex: undefined,
      lastSequence: -1,
      gap: false,
      media: undefined,
      bytes: 0,
      lastActivity: now
    }
    this.inFlight.set(responseId, state)
    if (evicted !== undefined) return [evicted, ...this.continue(state, envelope, now)]
    return this.continue(state, envelope, now)
  }

  /** Drops the response with the oldest activity; says which, once. */
  private evictStalest(now: number): AssemblerOutput {
    let stalest: Assembling | undefined
    for (const candidate of this.inFlight.values()) {
      if (stalest === undefined || candidate.lastActivity < stalest.lastActivity) stalest = candidate
    }
    this.drop(stalest!)
    const idle = now - stalest!.lastActivity
    return about(stalest!, "Evicted", `maxInFlightResponses (${this.limits.maxInFlight}) reached: dropped the least recently active response, idle for ${idle} ms`)
  }

  private continue(state: Assembling, envelope: MessageEnvelope, now: number): ReadonlyArray<AssemblerOutput> {
    const event = envelope.data as KnownEvent
    const eventType = event.type

    const sequence = event.sequence_number
    if (sequence !== undefined) {
      if (sequence <= state.lastSequence) {
        return [about(state, "SequenceNotIncreasing", `sequence_number ${sequence} after ${state.lastSequence}`, eventType)]
      }
      if (sequence !== state.lastSequence + 1) state.gap = true
      state.lastSequence = sequence
    }
    state.lastActivity = now

    switch (event.type) {
      case "response.output_text.delta": {
        const part = this.part(state, event.item_id, event.content_index)
        part.deltas += event.delta
        return this.checkSize(state, utf8Length(event.delta), eventType)
      }
      case "response.output_text.done": {
        this.part(state, event.item_id, event.content_index).done = event.text
        return this.checkSize(state, 0, eventType, utf8Length(event.text))
      }
      case "response.content_part.done": {
        const text = event.part?.text
        if (text === undefined) return this.addMedia(state, event)
        this.part(state, event.item_id, event.content_index).done = text
        return this.checkSize(state, 0, eventType, utf8Length(text))
      }
      case "response.content_part.added":
        return this.addMedia(state, event)
      case "response.output_item.done":
        if (event.item?.content?.some(isMediaOrUnknownPart)) this.mediaOf(state).addItem(event.item)
        return NOTHING
      case "response.completed": {
        const output = event.response?.output
        if (Array.isArray(output) && output.some(itemHasMedia)) this.mediaOf(state).addOutput(output)
        return this.complete(state, now)
      }
      case "response.failed":
      case "response.incomplete": {
        this.end(state)
        const reason = event.response?.error?.message
        return [about(state, "ResponseFailed", `${eventType}${reason === undefined ? "" : `: ${reason}`}; partial message discarded`, eventType)]
      }
      default:
        return NOTHING
    }
  }

  /**
   * Time the caller did not read (its own backpressure) is not the server's silence: moves every
   * response's last activity forward by `millis`, so `sweep` does not count it.
   */
  pauseIdle(millis: number): void {
    for (const state of this.inFlight.values()) state.lastActivity += millis
  }

  /** Discards responses idle for longer than the limit (a redelivery assembles them again). Call it periodically. */
  sweep(now: number): Array<AssemblerOutput> {
    const outputs: Array<AssemblerOutput> = []
    for (const state of this.inFlight.values()) {
      if (now - state.lastActivity >= this.limits.idleTimeoutMillis) {
        this.drop(state)
        outputs.push(about(state, "IdleTimeout", `no event for ${now - state.lastActivity} ms; partial message discarded`))
      }
    }
    return outputs
  }

  private part(state: Assembling, itemId: string | undefined, contentIndex: number | undefined): TextPart {
    if (state.lastPart !== undefined && state.lastItemId === itemId && state.lastContentIndex === contentIndex) return state.lastPart
    const key = `${itemId ?? ""}#${contentIndex ?? 0}`
    let part = state.parts.get(key)
    if (part === undefined) {
      part = { deltas: "", done: undefined }
      state.parts.set(key, part)
    }
    state.lastPart = part
    state.lastItemId = itemId
    state.lastContentIndex = contentIndex
    return part
  }

  /** A `content_part` event's part, when it is not text: a medium (or a part type nobody knows). */
  private addMedia(state: Assembling, event: KnownEvent & { readonly type: `response.content_part.${string}` }): ReadonlyArray<AssemblerOutput> {
    if (event.part !== undefined && isMediaOrUnknownPart(event.part)) this.mediaOf(state).add(event.item_id, event.content_index, event.part)
    return NOTHING
  }

  private mediaOf(state: Assembling): InboundMedia {
    return state.media ??= new InboundMedia(this.limits.maxMediaBytes ?? this.limits.maxTextBytes)
  }

  private checkSize(state: Assembling, added: number, eventType: string, whole = 0): ReadonlyArray<AssemblerOutput> {
    state.bytes = Math.max(state.bytes + added, whole)
    if (state.bytes <= this.limits.maxTextBytes) return NOTHING
    this.end(state)
    return [about(state, "TextTooLarge", `text exceeds ${this.limits.maxTextBytes} bytes; message discarded`, eventType)]
  }

  /** Ended for good: its events, sent again, are duplicates or come after its end. */
  private end(state: Assembling) {
    this.inFlight.delete(state.responseId)
    this.dedupe.end(state.responseId)
  }

  /** Given up unfinished (evicted, idle): sent again whole (§7), it is assembled again. */
  private drop(state: Assembling) {
    this.inFlight.delete(state.responseId)
    this.dedupe.drop(state.responseId)
  }

  /** The message, after a violation for each media part left out (they are not the message's end). */
  private complete(state: Assembling, now: number): ReadonlyArray<AssemblerOutput> {
    this.end(state)
    let text = ""
    for (const part of state.parts.values()) {
      if (part.done === undefined && state.gap) {
        return [about(state, "IncompleteText", "sequence numbers skipped and no output_text.done text; message discarded", "response.completed")]
      }
      text += part.done ?? part.deltas
    }
    const { media, problems } = state.media?.finish() ?? NO_MEDIA
    const refused = problems.map((problem) => about(state, "MediaRefused", problem, "response.completed"))
    // A message of media only is complete with text "" (§8.1); one with neither is empty.
    if (text.trim() === "" && media.length === 0) {
      return [...refused, about(state, "EmptyMessage", "completed response carried no text and no media", "response.completed")]
    }
    const message: InboundMessage = {
      ...state.origin,
      conversationId: state.conversationId,
      responseId: state.responseId,
      messageId: state.messageId,
      text: media.length > 0 && text.trim() === "" ? "" : text,
      ...(media.length === 0 ? {} : { media }),
      receivedAt: now
    }
    return refused.length === 0 ? [{ _tag: "Message", message }] : [...refused, { _tag: "Message", message }]
  }
}

const NO_MEDIA = { media: [], problems: [] } as const


const LIFECYCLE: ReadonlySet<string> = new Set([...STARTS, "response.completed", "response.failed", "response.incomplete"])

/** `response.id` of the lifecycle events, for servers that leave out `response_id`. */
const responseIdOf = (event: KnownEvent): string | undefined =>
  LIFECYCLE.has(event.type) ? (event as { readonly response?: { readonly id?: string } }).response?.id : undefined


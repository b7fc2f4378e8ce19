/**
 * What the host reports of a reply, as the pieces to send: text sent once however the host repeats
 * it (partials, blocks, finals), and reasoning as deltas. Pure state, no host types: the OpenClaw
 * agent (`OpenClawAgent.ts`) feeds them from its callbacks.
 *
 * @since 0.3.0
 */
/**
 * Turns what the host reports into reply pieces, each sent once.
 *
 * - Partials (`onPartialReply`, one per model chunk, `text` = the assistant message so far) go
 *   out as they come: the part not yet sent.
 * - A new assistant message (`onAssistantMessageStart`, e.g. after a tool call) continues the
 *   same reply after a blank line.
 * - Deliveries (`deliver`: blocks, then a final) are the fallback when the host gives no
 *   partials: blocks are paragraphs joined with a blank line. Whatever partials already sent is
 *   never sent again — a final that repeats the reply, or a repeated delivery (a known host
 *   quirk), sends nothing.
 */
export class DeliveryAssembler {
  /** Everything sent so far. */
  private sent = ""
  /** What the current assistant message contributed (for partials). */
  private message = ""
  /** Partials carried the reply: deliveries repeat it, and may only extend it. */
  private streamed = false
  private last: string | undefined

  /** The text sent so far. */
  get text(): string {
    return this.sent
  }

  /** A new assistant message begins; its text follows the earlier ones after a blank line. */
  messageStart(): void {
    this.message = ""
  }

  /** The piece to send for a partial whose `text` is the current message so far. */
  partial(text: string | undefined): string | undefined {
    if (text === undefined || !text.startsWith(this.message) || text.length === this.message.length) return undefined
    const fresh = text.slice(this.message.length)
    const separator = this.message === "" && this.sent !== "" ? "\n\n" : ""
    if (this.message === "" && fresh.trim() === "") return undefined
    this.message = text
    this.streamed = true
    this.sent += separator + fresh
    return separator + fresh
  }

  /** The piece to send for one delivery, or `undefined` to send nothing. */
  next(kind: string, text: string | undefined): string | undefined {
    if (kind === "tool" || text === undefined || text.trim() === "") return undefined
    if (text === this.last) return undefined
    this.last = text
    if (this.sent === "") {
      this.sent = text
      return text
    }
    // Already sent (by partials or blocks): the whole reply, or its latest part.
    if (text === this.sent || this.sent.endsWith(text)) return undefined
    if (text.startsWith(this.sent)) {
      const rest = text.slice(this.sent.length)
      this.sent = text
      return rest
    }
    if (this.streamed) return undefined
    const piece = `\n\n${text}`
    this.sent += piece
    return piece
  }
}

/** The host reports reasoning as the text so far, or in chunks: the part not yet sent. */
export class ReasoningText {
  private sent = ""
  next(text: string | undefined): string | undefined {
    if (text === undefined || text === "" || text === this.sent) return undefined
    const delta = text.startsWith(this.sent) ? text.slice(this.sent.length) : text
    this.sent = text.startsWith(this.sent) ? text : this.sent + text
    return delta
  }
}

/**
 * The media of one user message being assembled (docs/PROTOCOL.md §8.1): `input_image`,
 * `input_file` and `input_video` parts, gathered from `content_part.added/done` and from the item
 * snapshots of `output_item.done` and `response.completed`, each part once (keyed by item and
 * content index), and checked when the message completes.
 *
 * Bounded in bytes: the URLs held for one response (with a little for each part) stay within
 * `maxBytes`; a part past that is not kept, and the message says so once. A bad part — no URL, a
 * URL that is not allowed, a `data:` URL whose bytes are not what its type says, a part type
 * nobody knows — is left out with a problem sentence for the log (never a byte of it), and the
 * rest of the message goes on.
 */
import { checkUrl, type MediaKind, type MediaPart, parseDataUrl } from "../Media.ts"

const KINDS: Readonly<Record<string, { readonly kind: MediaKind; readonly field: string }>> = {
  input_image: { kind: "image", field: "image_url" },
  input_file: { kind: "file", field: "file_url" },
  input_video: { kind: "video", field: "video_url" }
}

/** Part types that hold text (or nothing a receiver reads): not media, and not unknown. */
const TEXTUAL: ReadonlySet<string> = new Set(["output_text", "input_text", "text", "summary_text", "reasoning_text", "refusal"])

/** Keys of parts left out for the limit that are remembered, so each is counted once. */
const MAX_DROPPED_KEYS = 1000

/** What a part costs besides its URL: its key and its record. */
const PART_OVERHEAD = 64

interface Candidate {
  readonly kind: MediaKind | undefined
  readonly type: string
  readonly url: string | undefined
  readonly filename: string | undefined
  readonly item: number
  readonly index: number
  readonly size: number
}

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** True for a part the media collector has to look at: not text. */
export const isMediaOrUnknownPart = (part: { readonly type: string; readonly text?: unknown }): boolean =>
  typeof part.text !== "string" && !TEXTUAL.has(part.type)

/** True for an item of `response.completed`'s output (not typed by `Wire`) that holds a part other than text. */
export const itemHasMedia = (item: unknown): boolean =>
  isObject(item) && Array.isArray(item.content) &&
  item.content.some((part) => isObject(part) && typeof part.type === "string" && isMediaOrUnknownPart(part as { type: string }))

export class InboundMedia {
  private readonly parts = new Map<string, Candidate>()
  private readonly items = new Map<string, number>()
  private bytes = 0
  /** Parts not kept for the limit, by key (one part comes in several events); the set itself is capped. */
  private readonly dropped = new Set<string>()
  private droppedUncounted = 0
  private readonly maxBytes: number

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes
  }

  /** One content part, from a `content_part` event or an item snapshot. */
  add(itemId: string | undefined, index: number | undefined, part: unknown): void {
    if (!isObject(part) || typeof part.type !== "string" || !isMediaOrUnknownPart(part as { type: string })) return
    const item = itemId ?? ""
    const key = `${item}#${index ?? 0}`
    const known = KINDS[part.type]
    const url = known === undefined ? undefined : part[known.field]
    const filename = typeof part.filename === "string" ? part.filename : undefined
    const candidate: Candidate = {
      kind: known?.kind,
      type: part.type.slice(0, 40),
      url: typeof url === "string" ? url : undefined,
      filename,
      item: 0,
      index: index ?? 0,
      size: PART_OVERHEAD + key.length + (typeof url === "string" ? url.length : 0) + (filename?.length ?? 0)
    }
    const previous = this.parts.get(key)
    const bytes = this.bytes - (previous?.size ?? 0) + candidate.size
    if (bytes > this.maxBytes) {
      if (previous !== undefined || this.dropped.has(key)) return
      if (this.dropped.size < MAX_DROPPED_KEYS) this.dropped.add(key)
      else this.droppedUncounted++
      return
    }
    this.bytes = bytes
    // The item's order is taken only for a part that is kept: the table stays as bounded as the parts.
    this.parts.set(key, { ...candidate, item: previous?.item ?? this.itemOrder(item) })
  }

  /** The content of an item snapshot (`output_item.done`, or one of `response.completed`'s `output`). */
  addItem(item: unknown): void {
    if (!isObject(item) || item.type !== "message" || !Array.isArray(item.content)) return
    const id = typeof item.id === "string" ? item.id : undefined
    item.content.forEach((part, index) => this.add(id, index, part))
  }

  /** The message items of `response.completed`'s `output`. */
  addOutput(output: unknown): void {
    if (Array.isArray(output)) for (const item of output) this.addItem(item)
  }

  private itemOrder(item: string): number {
    let order = this.items.get(item)
    if (order === undefined) this.items.set(item, order = this.items.size)
    return order
  }

  /** The message's media in order (by item, then content index; each URL once), and what was left out and why. */
  finish(): { readonly media: ReadonlyArray<MediaPart>; readonly problems: ReadonlyArray<string> } {
    const media: Array<MediaPart> = []
    const problems: Array<string> = []
    const seen = new Set<string>()
    const ordered = [...this.parts.values()].sort((a, b) => a.item - b.item || a.index - b.index)
    for (const part of ordered) {
      const where = `${part.type} part at content_index ${part.index}`
      if (part.kind === undefined) {
        problems.push(`${JSON.stringify(part.type)} part at content_index ${part.index}: not a part type this connector reads; left out`)
        continue
      }
      if (part.url === undefined || part.url === "") {
        problems.push(`${where}: no URL; left out`)
        continue
      }
      const wrong = checkUrl(part.url, part.kind)
      if (wrong !== undefined) {
        problems.push(`${where}: ${wrong}; left out`)
        continue
      }
      if (seen.has(part.url)) continue
      seen.add(part.url)
      const mimeType = parseDataUrl(part.url)?.mimeType
      media.push({
        kind: part.kind,
        url: part.url,
        ...(part.filename === undefined ? {} : { filename: part.filename }),
        ...(mimeType === undefined ? {} : { mimeType })
      })
    }
    const dropped = this.dropped.size + this.droppedUncounted
    if (dropped > 0) problems.push(`${dropped} media part(s) past the limit of ${this.maxBytes} bytes of media per message; left out`)
    return { media, problems }
  }
}

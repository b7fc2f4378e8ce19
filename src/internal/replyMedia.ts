/**
 * The media of one outbound message (docs/PROTOCOL.md §8.1), for `ReplyEncoder`: each medium
 * becomes a content part of the message item after its text — `input_image` `{image_url, detail:
 * "auto"}` for an image, `input_file` `{file_url, filename}` for anything else — each URL once.
 *
 * Gotchas: the schema allows no video in `content_part` events, so a video goes out as an
 * `input_file`; only a user message (the reference server's) carries `input_video`, and then in
 * the item snapshots alone.
 */
import { filenameOf, type ReplyMedia, toDataUrl } from "../Media.ts"

/** A content part as it goes on the wire, and whether it may appear in `content_part` events. */
export interface MediaContent {
  readonly part: Record<string, unknown>
  readonly streamed: boolean
}

export class ReplyMediaParts {
  readonly parts: Array<MediaContent> = []
  private readonly urls = new Set<string>()
  private readonly role: "assistant" | "user"

  constructor(role: "assistant" | "user") {
    this.role = role
  }

  get size(): number {
    return this.parts.length
  }

  /**
   * Adds a medium; false when its URL is already there (or it has neither URL nor bytes). Bytes
   * become a `data:` URL as they are: the size is the caller's to check before (`connector/Media.ts`).
   */
  add(media: ReplyMedia): boolean {
    const url = media.url ?? (media.bytes === undefined ? undefined : toDataUrl(media.bytes, media.mimeType ?? "application/octet-stream"))
    if (url === undefined || url === "" || this.urls.has(url)) return false
    this.urls.add(url)
    if (media.kind === "image") {
      this.parts.push({ part: { type: "input_image", image_url: url, detail: "auto" }, streamed: true })
    } else if (media.kind === "video" && this.role === "user") {
      this.parts.push({ part: { type: "input_video", video_url: url }, streamed: false })
    } else {
      this.parts.push({ part: { type: "input_file", file_url: url, filename: filenameOf({ kind: media.kind, url, filename: media.filename }) }, streamed: true })
    }
    return true
  }

  /** The content parts, in order, for the item snapshots. */
  get content(): Array<Record<string, unknown>> {
    return this.parts.map(({ part }) => part)
  }

  /** The `content_part.added` and `.done` events of each streamed part, from content index `first`. */
  events(itemId: string, outputIndex: number, first: number): Array<Record<string, unknown> & { readonly type: string }> {
    return this.parts.flatMap(({ part, streamed }, i) => {
      if (!streamed) return []
      const location = { item_id: itemId, output_index: outputIndex, content_index: first + i }
      return [{ type: "response.content_part.added", ...location, part }, { type: "response.content_part.done", ...location, part }]
    })
  }
}

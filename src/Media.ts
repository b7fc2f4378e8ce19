/**
 * Media on the wire (docs/PROTOCOL.md §8.1): what a user's message may carry besides its text
 * (`MediaPart`), what an agent may send back (`ReplyMedia`, a piece of its reply), and the checks
 * both directions share — which URLs are allowed, what a `data:` URL holds, whether its bytes are
 * what its MIME type says.
 *
 * Pure and synchronous. Nothing here logs; every description it gives (`describeUrl`, the
 * sentences of `checkUrl`) names a URL's scheme, host and path or a data URL's type and size,
 * never its bytes or query string, so it is safe in a log line.
 *
 * @since 0.2.0
 */
import { Buffer } from "node:buffer"

/** An image, a video, or any other file (§8.1: `input_image`, `input_video`, `input_file`). */
export type MediaKind = "image" | "file" | "video"

/**
 * A medium of a user's message, as the agent gets it. `url` is `https://`, loopback `http://`, or
 * a `data:` URL (checked: its bytes are what its type says). Fetching it is the receiver's job.
 */
export interface MediaPart {
  readonly kind: MediaKind
  readonly url: string
  readonly filename?: string | undefined
  readonly mimeType?: string | undefined
}

/**
 * A medium the agent sends, a piece of its reply: exactly one of `url` (sent as it is) or `bytes`
 * (sent inline as a `data:` URL when the frame allows, else uploaded, else the reply says it could
 * not be sent). It follows the reply's text as a content part of its own.
 */
export interface ReplyMedia {
  readonly _tag: "Media"
  readonly kind: MediaKind
  readonly url?: string | undefined
  readonly bytes?: Uint8Array | undefined
  readonly mimeType?: string | undefined
  readonly filename?: string | undefined
}

/** True for a `ReplyMedia` piece. */
export const isReplyMedia = (piece: unknown): piece is ReplyMedia =>
  typeof piece === "object" && piece !== null && (piece as { readonly _tag?: unknown })._tag === "Media"

/** The kind a MIME type suggests: `image/*` an image, `video/*` a video, anything else a file. */
export const kindOfMimeType = (mimeType: string | undefined): MediaKind =>
  mimeType?.startsWith("image/") ? "image" : mimeType?.startsWith("video/") ? "video" : "file"

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

/** A host that is this machine: where `ws://` (the `url` setting, §1) and `http://` media (§8.1) may go. */
export const isLoopbackHost = (hostname: string): boolean => {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase()
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)
}

/** A `data:` URL, split: its MIME type and its bytes still encoded. */
export interface DataUrl {
  readonly mimeType: string
  readonly base64: boolean
  /** The data after the comma, as written. */
  readonly data: string
}

const DATA_URL = /^data:([^,]*?),/i

/** Splits a `data:` URL; `undefined` when it is not one. The type defaults to `text/plain` (RFC 2397). */
export const parseDataUrl = (url: string): DataUrl | undefined => {
  const head = DATA_URL.exec(url.slice(0, 300))
  if (head === null) return undefined
  const params = head[1]!.split(";").map((param) => param.trim())
  const base64 = params.length > 1 && params.at(-1)!.toLowerCase() === "base64"
  const mimeType = (params[0] || "text/plain").toLowerCase()
  return { mimeType, base64, data: url.slice(head[0].length) }
}

/** How many bytes a `data:` URL holds, without decoding it. */
export const dataUrlSize = (url: DataUrl): number => {
  if (!url.base64) return Buffer.byteLength(decodeURIComponentSafe(url.data) ?? url.data)
  const padding = url.data.endsWith("==") ? 2 : url.data.endsWith("=") ? 1 : 0
  return Math.floor((url.data.length * 3) / 4) - padding
}

const decodeURIComponentSafe = (text: string) => {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** The bytes of a `data:` URL, or `undefined` when its data is not valid base64 (or percent-encoding). */
export const dataUrlBytes = (url: DataUrl): Uint8Array | undefined => {
  if (!url.base64) {
    const text = decodeURIComponentSafe(url.data)
    return text === undefined ? undefined : Buffer.from(text, "utf8")
  }
  if (url.data.length % 4 !== 0 || !BASE64.test(url.data)) return undefined
  return Buffer.from(url.data, "base64")
}

/** The `data:` URL of `bytes`. */
export const toDataUrl = (bytes: Uint8Array, mimeType: string): string =>
  `data:${mimeType};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}`

/** The length of `toDataUrl(bytes, mimeType)`, without building it. */
export const dataUrlLength = (byteLength: number, mimeType: string): number =>
  `data:${mimeType};base64,`.length + Math.ceil(byteLength / 3) * 4

/** A URL described for a log line: scheme, host and path, or a data URL's type and size. No bytes, no query. */
export const describeUrl = (url: string): string => {
  const data = parseDataUrl(url)
  if (data !== undefined) return `a data: URL (${data.mimeType}, ${dataUrlSize(data)} bytes)`
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.length > 80 ? `${parsed.pathname.slice(0, 80)}…` : parsed.pathname}`
  } catch {
    return `a malformed URL of ${url.length} characters`
  }
}

/** What is wrong with a medium's URL, as a sentence for the log; `undefined` when it may be sent or fetched. */
export const checkUrl = (url: string, kind: MediaKind): string | undefined => {
  const data = parseDataUrl(url)
  if (data !== undefined) return checkDataUrl(data, kind)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `${describeUrl(url)}: not an absolute URL`
  }
  if (parsed.protocol === "https:") return undefined
  if (parsed.protocol === "http:" && isLoopbackHost(parsed.hostname)) return undefined
  return `${describeUrl(url)}: only https://, loopback http:// and data: URLs are allowed`
}

const checkDataUrl = (url: DataUrl, kind: MediaKind): string | undefined => {
  const expected = kind === "image" ? "image/" : kind === "video" ? "video/" : undefined
  if (expected !== undefined && !url.mimeType.startsWith(expected)) return `a data: URL of type ${url.mimeType} in an ${kind} part`
  // Only the first bytes are decoded to sniff the type; the rest is checked for the alphabet only.
  if (url.base64 && (url.data.length % 4 !== 0 || !BASE64.test(url.data))) return `a data: URL (${url.mimeType}) whose data is not valid base64`
  const head = url.base64 ? Buffer.from(url.data.slice(0, 64), "base64") : dataUrlBytes(url)
  if (head === undefined) return `a data: URL (${url.mimeType}) whose data is not valid percent-encoding`
  if (!bytesMatchMimeType(head, url.mimeType)) {
    const sniffed = sniffMimeType(head)
    return `a data: URL that says ${url.mimeType} but holds ${sniffed ?? "something else"}`
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// What bytes are: the magic numbers of common types.
// ---------------------------------------------------------------------------------------------

const startsWith = (bytes: Uint8Array, prefix: ReadonlyArray<number>, at = 0) =>
  bytes.length >= at + prefix.length && prefix.every((byte, i) => bytes[at + i] === byte)
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0))

/** Types whose bytes can be recognised, each with its test on the first bytes. */
const SIGNATURES: ReadonlyArray<readonly [string, (bytes: Uint8Array) => boolean]> = [
  ["image/png", (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
  ["image/jpeg", (b) => startsWith(b, [0xff, 0xd8, 0xff])],
  ["image/gif", (b) => startsWith(b, ascii("GIF87a")) || startsWith(b, ascii("GIF89a"))],
  ["image/webp", (b) => startsWith(b, ascii("RIFF")) && startsWith(b, ascii("WEBP"), 8)],
  ["image/bmp", (b) => startsWith(b, ascii("BM"))],
  ["application/pdf", (b) => startsWith(b, ascii("%PDF-"))],
  ["video/mp4", (b) => startsWith(b, ascii("ftyp"), 4)],
  ["video/quicktime", (b) => startsWith(b, ascii("ftyp"), 4)],
  ["video/webm", (b) => startsWith(b, [0x1a, 0x45, 0xdf, 0xa3])],
  ["application/zip", (b) => startsWith(b, [0x50, 0x4b, 0x03, 0x04])],
  ["application/gzip", (b) => startsWith(b, [0x1f, 0x8b])]
]
const ALIASES: Readonly<Record<string, string>> = { "image/jpg": "image/jpeg", "image/x-png": "image/png", "application/x-gzip": "application/gzip" }
const signatureOf = new Map(SIGNATURES)

/** The type the first bytes show, when they show one this module knows. */
export const sniffMimeType = (bytes: Uint8Array): string | undefined => SIGNATURES.find(([, test]) => test(bytes))?.[0]

/**
 * False when `mimeType` is one whose bytes can be recognised and these are not such bytes; true
 * otherwise (a type this module cannot check is taken at its word).
 */
export const bytesMatchMimeType = (bytes: Uint8Array, mimeType: string): boolean => {
  const test = signatureOf.get(ALIASES[mimeType] ?? mimeType)
  return test === undefined || test(bytes)
}

/** A file name for a medium: the one given, else the last segment of its URL's path, else `kind`. */
export const filenameOf = (media: { readonly kind: MediaKind; readonly url: string; readonly filename?: string | undefined }): string => {
  if (media.filename !== undefined && media.filename !== "") return media.filename
  if (parseDataUrl(media.url) === undefined) {
    try {
      const last = new URL(media.url).pathname.split("/").at(-1)
      if (last !== undefined && last !== "") return decodeURIComponentSafe(last) ?? last
    } catch {
      // no name in it
    }
  }
  return media.kind
}

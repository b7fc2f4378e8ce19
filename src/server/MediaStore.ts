/**
 * The reference server's media (docs/PROTOCOL.md §8.1): the HTTP side of its own port. A
 * connector uploads a medium too large for a frame with `POST /upload` (the bytes as the body,
 * `x-app-key`/`x-app-secret` checked as on the upgrade, `Content-Type` kept), and is answered
 * `{"url": "http://127.0.0.1:<port>/media/<id>"}`; anyone may `GET` that URL back, as from a CDN.
 * The server serves its own media the same way (`put`: the demo's image), so nothing leaves this
 * machine. The WebSocket upgrade on the same port is the WebSocket server's (`server` option).
 *
 * Bounded: one upload at most `maxUploadBytes` (413 past it); everything kept at most
 * `maxStoredBytes`, the oldest let go first.
 *
 * @since 0.2.0
 */
import { Effect, type Scope } from "effect"
import { Buffer } from "node:buffer"
import { randomBytes } from "node:crypto"
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** What the media side of the server did. */
export type MediaEvent =
  /** An upload was stored; `url` is where it is served. */
  | { readonly _tag: "Uploaded"; readonly clientId: string; readonly url: string; readonly bytes: number; readonly mimeType: string }
  /** An upload was refused: 401 (credentials), 413 (too large). */
  | { readonly _tag: "UploadRefused"; readonly status: number }

export interface MediaStoreOptions {
  readonly host: string
  readonly port: number
  /** Whether a request's `x-app-key`/`x-app-secret` are an account's; the client id when they are. */
  readonly authorize: (headers: IncomingHttpHeaders) => string | undefined
  readonly onEvent: (event: MediaEvent) => void
  /** Default 25 MiB. */
  readonly maxUploadBytes?: number | undefined
  /** Default 64 MiB. */
  readonly maxStoredBytes?: number | undefined
}

export interface MediaStore {
  /** The HTTP server on the reference server's port, listening; the WebSocket server attaches to it. */
  readonly server: Server
  readonly port: number
  /** `http://host:port/upload`: what the server's hello offers as `upload.url`. */
  readonly uploadUrl: string
  /** Keeps `bytes` and gives the URL they are served at. */
  readonly put: (bytes: Uint8Array, mimeType: string) => string
}

/** The host put in URLs: a wildcard address is reached on loopback. */
const urlHost = (host: string) => host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host

/** Starts the HTTP server on `host:port` for the scope. */
export const serveMedia = (options: MediaStoreOptions): Effect.Effect<MediaStore, never, Scope.Scope> =>
  Effect.gen(function*() {
    const maxUpload = options.maxUploadBytes ?? 25 * 1024 * 1024
    const maxStored = options.maxStoredBytes ?? 64 * 1024 * 1024
    const stored = new Map<string, { readonly bytes: Uint8Array; readonly mimeType: string }>()
    let storedBytes = 0
    let base = ""

    const put = (bytes: Uint8Array, mimeType: string): string => {
      const id = randomBytes(12).toString("base64url")
      stored.set(id, { bytes, mimeType })
      storedBytes += bytes.byteLength
      for (const [oldest, media] of stored) {
        if (storedBytes <= maxStored || oldest === id) break
        stored.delete(oldest)
        storedBytes -= media.bytes.byteLength
      }
      return `${base}/media/${id}`
    }

    const answer = (response: ServerResponse, status: number, body: string, type = "application/json") => {
      response.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) })
      response.end(body)
    }

    const upload = (request: IncomingMessage, response: ServerResponse) => {
      const clientId = options.authorize(request.headers)
      const refuse = (status: number, message: string) => {
        options.onEvent({ _tag: "UploadRefused", status })
        response.setHeader("connection", "close")
        answer(response, status, JSON.stringify({ error: message }))
      }
      if (clientId === undefined) return refuse(401, "Unauthorized: check x-app-key and x-app-secret")
      if (Number(request.headers["content-length"] ?? 0) > maxUpload) return refuse(413, `Uploads are at most ${maxUpload} bytes`)
      const chunks: Array<Buffer> = []
      let size = 0
      request.on("data", (chunk: Buffer) => {
        size += chunk.byteLength
        if (size > maxUpload) {
          request.removeAllListeners("data")
          request.resume()
          return refuse(413, `Uploads are at most ${maxUpload} bytes`)
        }
        chunks.push(chunk)
      })
      request.on("end", () => {
        if (size > maxUpload) return
        const mimeType = (request.headers["content-type"] ?? "application/octet-stream").split(";")[0]!.trim().toLowerCase()
        const url = put(Buffer.concat(chunks), mimeType)
        options.onEvent({ _tag: "Uploaded", clientId, url, bytes: size, mimeType })
        answer(response, 201, JSON.stringify({ url }))
      })
    }

    const handle = (request: IncomingMessage, response: ServerResponse) => {
      const path = (request.url ?? "/").split("?")[0]!
      if (path === "/upload" && request.method === "POST") return upload(request, response)
      const media = path.startsWith("/media/") ? stored.get(path.slice("/media/".length)) : undefined
      if (media === undefined || (request.method !== "GET" && request.method !== "HEAD")) {
        return answer(response, 404, "Not found\n", "text/plain")
      }
      response.writeHead(200, { "content-type": media.mimeType, "content-length": media.bytes.byteLength, "cache-control": "no-store" })
      response.end(request.method === "HEAD" ? undefined : media.bytes)
    }

    const server = yield* Effect.acquireRelease(
      Effect.callback<Server>((resume) => {
        const http = createServer(handle)
        http.once("listening", () => resume(Effect.succeed(http)))
        http.once("error", (error) => resume(Effect.die(error)))
        http.listen(options.port, options.host)
      }),
      (http) =>
        Effect.callback<void>((resume) => {
          http.closeAllConnections()
          http.close(() => resume(Effect.void))
        })
    )
    const port = (server.address() as AddressInfo).port
    base = `http://${urlHost(options.host)}:${port}`
    return { server, port, uploadUrl: `${base}/upload`, put }
  })

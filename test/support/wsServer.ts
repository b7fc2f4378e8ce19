/**
 * A bare `ws` server on 127.0.0.1 (port 0) for Connection tests that need a real peer with
 * switches the reference server does not have. Scoped: closing the scope terminates every
 * client and closes the server.
 */
import { Effect, Queue } from "effect"
import type { IncomingMessage } from "node:http"
import { type AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"

export interface ServerConnection {
  readonly socket: WebSocket
  readonly headers: IncomingMessage["headers"]
  /** Text frames received, in order, but for the client's hellos: what a v1 server reads (§2, §6). */
  readonly received: Queue.Queue<string>
  /** The client's hello frames. */
  readonly hellos: Array<string>
  /** Resolves with the close code the client sent (or 1006). */
  readonly closed: Promise<number>
}

export const wsServer = (options: {
  readonly autoPong?: boolean
  readonly rejectWith?: number
  readonly rejectMessage?: string
  readonly rejectHeaders?: Record<string, string>
} = {}) =>
  Effect.acquireRelease(
    Effect.callback<{ server: WebSocketServer; connections: Queue.Queue<ServerConnection>; upgrades: Array<IncomingMessage["headers"]>; url: string }>((resume) => {
      const connections = Effect.runSync(Queue.unbounded<ServerConnection>())
      const upgrades: Array<IncomingMessage["headers"]> = []
      const server = new WebSocketServer({
        host: "127.0.0.1",
        port: 0,
        autoPong: options.autoPong ?? true,
        verifyClient: (info, done) => {
          upgrades.push(info.req.headers)
          if (options.rejectWith === undefined) done(true)
          else done(false, options.rejectWith, options.rejectMessage ?? "Unauthorized", options.rejectHeaders)
        }
      })
      server.on("connection", (socket, request) => {
        const received = Effect.runSync(Queue.unbounded<string>())
        const hellos: Array<string> = []
        socket.on("message", (data, isBinary) => {
          if (isBinary) return
          const text = data.toString()
          if (text.startsWith(`{"type":"hello"`)) hellos.push(text)
          else Queue.offerUnsafe(received, text)
        })
        const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)))
        Queue.offerUnsafe(connections, { socket, headers: request.headers, received, hellos, closed })
      })
      server.on("listening", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, connections, upgrades, url: `ws://127.0.0.1:${port}/user-ws/` }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        for (const client of server.clients) client.terminate()
        server.close(() => resume(Effect.void))
      })
  )

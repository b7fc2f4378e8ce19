/**
 * What a status display needs to know about the connection (`Connection.status`), kept current
 * at all times: its state, the last failure, the next attempt, and what the open link agreed on
 * in its hellos (docs/PROTOCOL.md §6).
 */
import type { ConnectionErrorReason } from "../ConnectionError.ts"
import type * as Wire from "../Wire.ts"
import { V1 } from "./Handshake.ts"

export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting"

/** Everything a status display needs to know about the connection, kept current at all times. */
export interface ConnectionStatus {
  readonly state: ConnectionState
  /** Consecutive failed attempts since the last open. */
  readonly reconnectAttempts: number
  /** Why the most recent link failed (kept after a later open, as history), and when. */
  readonly lastError: ConnectionErrorReason | undefined
  readonly lastErrorAt: number | undefined
  /** Unix ms of the next scheduled attempt, while one is scheduled. */
  readonly nextRetryAt: number | undefined
  readonly lastConnectedAt: number | undefined
  /** Unix ms when the last open link ended. */
  readonly lastDisconnectedAt: number | undefined
  /** What the open link agreed on in its hellos: protocol 1 and no features until the server's (§6). */
  readonly protocol: number
  readonly features: ReadonlyArray<Wire.Feature>
  /** Where the server takes uploaded media, and the largest frame it reads, when its hello said (§8.1). */
  readonly upload?: { readonly url: string } | undefined
  readonly maxFrameBytes?: number | undefined
}

export const initialStatus: ConnectionStatus = {
  state: "disconnected",
  reconnectAttempts: 0,
  lastError: undefined,
  lastErrorAt: undefined,
  nextRetryAt: undefined,
  lastConnectedAt: undefined,
  lastDisconnectedAt: undefined,
  ...V1
}

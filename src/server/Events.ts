/**
 * What the reference server reports (`ReferenceServer.subscribe`): its links, hellos and acks,
 * uploads (`MediaStore.ts`) and the client's replies (`Replies.ts`); and the error of a user
 * message no v1 client was there to take.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import type { MediaEvent } from "./MediaStore.ts"
import type { ReplyEvent } from "./Replies.ts"

/** Something the server saw or did. Subscribe with `ReferenceServer.subscribe`. */
export type ServerEvent =
  | { readonly _tag: "ClientConnected"; readonly clientId: string }
  | { readonly _tag: "ClientDisconnected"; readonly code: number }
  | { readonly _tag: "AuthRefused"; readonly status: number }
  | { readonly _tag: "Frame"; readonly json: string }
  /** A link's hello was answered; `features` are the ones both sides listed. */
  | { readonly _tag: "Hello"; readonly clientId: string; readonly features: ReadonlyArray<string> }
  /** An ack arrived (after `Unacknowledged` for it); `settled` when it acknowledged a message the server was keeping. */
  | { readonly _tag: "Acked"; readonly clientId: string; readonly responseId: string; readonly settled: boolean }
  /** Kept messages written again to a new link after its hellos, in the order first sent. */
  | { readonly _tag: "Redelivered"; readonly clientId: string; readonly responseIds: ReadonlyArray<string> }
  /** The number of messages waiting for an ack changed. */
  | { readonly _tag: "Unacknowledged"; readonly count: number }
  | MediaEvent
  | ReplyEvent

/** A user message could not be sent to a v1 client: no link stayed open. `redeliver(responseId)` later. */
export class NoClientError extends Schema.TaggedError<NoClientError>()("NoClientError", {
  responseId: Schema.String
}) {
  override get message() {
    return "No connector is connected to the reference server"
  }
}

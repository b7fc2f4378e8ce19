/**
 * `insta-claw-connector/testing`: what you need to test your own Effect code against this
 * connector, with real sockets or none, and with `TestClock` for time.
 *
 * - `ReferenceServer.layer({ port: 0 })` — a real InstaClaw server on 127.0.0.1 as a scoped layer:
 *   send user messages, watch replies stream back (`subscribe`, `events`), misbehave on purpose.
 *   It speaks protocol v2 to a client that says hello (acks, redelivery, `unacknowledged`,
 *   `setDropAfterFrames` to cut a message mid-stream) and v1 to one that does not.
 * - `fakeDialer(behaviour)` — a `WebSocketDialer` whose sockets the test drives by hand: no
 *   network, so backoff and heartbeat run entirely on `TestClock`.
 * - `userFrame`, `userEnvelope`, `userMessageFrames`, `decodeMessage`, `eventsOf` — frames in and out.
 *
 * @since 0.1.0
 */
export { FakeSocket, fakeDialer } from "./FakeDialer.ts"
export { decodeMessage, eventsOf, userEnvelope, userFrame, userMessageFrames } from "./Frames.ts"
export {
  FeatureNotAgreedError,
  NoClientError,
  ReferenceServer,
  type ReferenceServerOptions,
  SERVER_FEATURES,
  type ServerEvent,
  type UserMessage
} from "../server/ReferenceServer.ts"

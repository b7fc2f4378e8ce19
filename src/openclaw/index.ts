/**
 * The OpenClaw plugin entry: registers the InstaClaw channel. Importing it has no side effects;
 * OpenClaw calls `register(api)` in whichever registration mode it needs.
 *
 * It imports OpenClaw's SDK for types only, so this package never needs `openclaw` at run time.
 *
 * @since 0.1.0
 */
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/channel-core"
import { CHANNEL_ID, makeChannelPlugin } from "./Channel.ts"
import { channelSchema } from "./ChannelSchema.ts"
import type { HostChannelRuntime } from "./OpenClawAgent.ts"

const plugin = {
  id: CHANNEL_ID,
  name: "InstaClaw",
  description: "InstaClaw channel: one authenticated WebSocket speaking Open Responses streaming events both ways",
  configSchema: { type: "object", additionalProperties: false, properties: {} },
  register(api: OpenClawPluginApi) {
    // OpenClaw's real runtime must fit what the agent calls (checked when this compiles).
    const hostChannel: HostChannelRuntime | undefined = api.runtime?.channel
    api.registerChannel({ plugin: makeChannelPlugin(hostChannel) })
  }
}

export default plugin

export { channelSchema }

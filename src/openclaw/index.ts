/**
 * The OpenClaw plugin entry: registers the InstaClaw channel. Importing it has no side effects;
 * OpenClaw calls `register(api)` in whichever registration mode it needs.
 *
 * The glue uses the SDK's helpers (access, pairing, setup, secret references) from the OpenClaw it
 * runs in — `openclaw` is an optional peer dependency, linked by `openclaw plugins install`. The
 * library entry (`insta-claw-connector`) never imports it.
 *
 * @since 0.1.0
 */
import { join } from "node:path"
import type { OpenClawConfig, OpenClawPluginApi } from "openclaw/plugin-sdk/channel-core"
import { configProblems, makeChannelPlugin } from "./Channel.ts"
import { channelSchema, manifest, PLUGIN_ID } from "./ChannelSchema.ts"
import type { HostChannelRuntime } from "./OpenClawAgent.ts"

/**
 * The plugin id is the package name: OpenClaw uses it as the config key
 * (`plugins.entries.insta-claw-connector`) and warns at install when the two differ. The channel
 * it registers keeps its own short id, `instaclaw` (`channels.instaclaw`).
 */
const plugin = {
  id: PLUGIN_ID,
  name: manifest.name,
  description: manifest.description,
  configSchema: manifest.configSchema,
  register(api: OpenClawPluginApi) {
    // OpenClaw's real runtime must fit what the agent calls (checked when this compiles).
    const hostChannel: HostChannelRuntime | undefined = api.runtime?.channel
    // Answered ids survive a gateway restart in the plugin's own corner of the state directory.
    const stateDir = api.runtime?.state?.resolveStateDir === undefined
      ? undefined
      : () => join(api.runtime.state.resolveStateDir(), "plugins", PLUGIN_ID)
    // Settings applied live are read from the current config at use time.
    const liveConfig = api.runtime?.config?.current === undefined ? undefined : () => api.runtime.config.current() as OpenClawConfig
    api.registerChannel({ plugin: makeChannelPlugin(hostChannel, stateDir, liveConfig) })
    // OpenClaw does not start an account it finds unconfigured, so nothing else would say why:
    // warn once, when the gateway loads the plugin for real.
    if (api.registrationMode === "full" && api.config !== undefined) {
      for (const problem of configProblems(api.config)) api.logger?.warn(problem)
    }
  }
}

export default plugin

export { channelSchema }

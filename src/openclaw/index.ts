/**
 * The OpenClaw plugin entry, made with the SDK's channel entry helper (`defineChannelPluginEntry`):
 * it registers the InstaClaw channel in each registration mode that asks for channels, keeps the
 * host's runtime for the accounts the gateway starts, and in "full" mode warns about accounts that
 * cannot start. Importing it builds plain objects only; sockets open in `gateway.startAccount`.
 *
 * The glue uses the SDK's helpers (access, pairing, setup, secret references) from the OpenClaw it
 * runs in — `openclaw` is an optional peer dependency, linked by `openclaw plugins install`. The
 * library entry (`insta-claw-connector`) never imports it.
 *
 * Gotchas: the helper registers one channel plugin object, built here before any runtime exists,
 * so the runtime reaches it through the SDK's runtime store (`setRuntime`) and is read when an
 * account starts. The store keeps one slot per plugin instance the host manages, so a load in
 * another registration mode does not replace the runtime of the running gateway.
 *
 * @since 0.1.0
 */
import { join } from "node:path"
import { type ChannelPlugin, defineChannelPluginEntry, type OpenClawConfig, type PluginRuntime } from "openclaw/plugin-sdk/channel-core"
import { createPluginRuntimeStore } from "openclaw/plugin-sdk/runtime-store"
import { configProblems, type HostServices, type InstaClawAccount, makeChannelPlugin } from "./Channel.ts"
import { channelSchema, manifest, PLUGIN_ID } from "./ChannelSchema.ts"
import type { HostChannelRuntime } from "./OpenClawAgent.ts"

const runtimeStore = createPluginRuntimeStore<PluginRuntime>({
  pluginId: PLUGIN_ID,
  errorMessage: `${PLUGIN_ID}: OpenClaw has not handed its runtime to the plugin yet`
})

/** What an account takes from OpenClaw's runtime; nothing when the host gave none. */
const hostServices = (runtime: PluginRuntime | null): HostServices => {
  if (runtime === null) return {}
  // OpenClaw's real runtime must fit what the agent calls (checked when this compiles).
  const hostChannel: HostChannelRuntime | undefined = runtime.channel
  return {
    hostChannel,
    // Answered ids survive a gateway restart in the plugin's own corner of the state directory.
    stateDir: runtime.state?.resolveStateDir === undefined
      ? undefined
      : () => join(runtime.state.resolveStateDir(), "plugins", PLUGIN_ID),
    // Settings applied live are read from the current config at use time.
    liveConfig: runtime.config?.current === undefined ? undefined : () => runtime.config.current() as OpenClawConfig
  }
}

/** The helper's result, named through the helper: the SDK exports no name for it (declarations need one). */
type PluginEntry = ReturnType<typeof defineChannelPluginEntry<ChannelPlugin<InstaClawAccount>>>

/**
 * The plugin id is the package name: OpenClaw uses it as the config key
 * (`plugins.entries.insta-claw-connector`) and warns at install when the two differ. The channel
 * it registers keeps its own short id, `instaclaw` (`channels.instaclaw`).
 */
const entry: PluginEntry = defineChannelPluginEntry({
  id: PLUGIN_ID,
  name: manifest.name,
  description: manifest.description,
  plugin: makeChannelPlugin(() => hostServices(runtimeStore.tryGetRuntime())),
  // The plugin has no settings of its own (`plugins.entries.<id>.config`): the manifest's empty
  // object schema. The channel's settings have their schema on the channel plugin.
  configSchema: () => ({ schema: manifest.configSchema }),
  setRuntime: runtimeStore.setRuntime,
  // OpenClaw does not start an account it finds unconfigured, so nothing else would say why:
  // warn once, when the gateway loads the plugin for real (the helper also calls this for a
  // tool-discovery load, which starts nothing).
  registerFull: (api) => {
    if (api.registrationMode !== "full" || api.config === undefined) return
    for (const problem of configProblems(api.config)) api.logger?.warn(problem)
  }
})

export default entry

export { channelSchema }

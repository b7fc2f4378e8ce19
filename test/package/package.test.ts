/**
 * The package as a user receives it: `npm pack`, the tarball unpacked into a fresh folder beside
 * only its peer dependencies (no openclaw anywhere on the path), an Effect-only consumer
 * type-checked with `skipLibCheck: false` and run. Also checks what the tarball holds, and that
 * the OpenClaw entry loads with nothing beside it but OpenClaw.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { execFileSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const repo = fileURLToPath(new URL("../..", import.meta.url))
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"))
let dir: string
let files: Array<string>

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "instaclaw-pack-"))
  const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))
  files = packed.files.map((file: { path: string }) => file.path)
  const installed = join(dir, "node_modules", pkg.name)
  mkdirSync(installed, { recursive: true })
  execFileSync("tar", ["-xzf", join(dir, packed.filename), "-C", installed, "--strip-components=1"])
  // What `npm install insta-claw-connector` brings: its peer dependencies (and theirs), no dev tools.
  for (const dependency of ["effect", "ws", "@effect/platform-node-shared", "@types/ws", "@types/node", "undici-types"]) {
    const from = join(repo, "node_modules", dependency)
    if (!existsSync(from)) continue
    mkdirSync(join(dir, "node_modules", dependency, ".."), { recursive: true })
    symlinkSync(from, join(dir, "node_modules", dependency), "dir")
  }
  cpSync(fileURLToPath(new URL("consumer.ts.txt", import.meta.url)), join(dir, "consumer.ts"))
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "ES2023", lib: ["ES2023", "DOM"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"],
      strict: true, skipLibCheck: false, noEmit: true, allowImportingTsExtensions: true
    },
    files: ["consumer.ts"]
  }))
}, 120_000)

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe("the packed package", () => {
  it("holds the built entries, the manifest, LICENSE and the docs, and no tests or sources", () => {
    for (const file of ["LICENSE", "README.md", "docs/PROTOCOL.md", "openclaw.plugin.json", "package.json", "dist/index.js", "dist/index.d.ts", "dist/openclaw/index.js", "dist/testing/index.js", "dist/cli.js"]) {
      assert.include(files, file)
    }
    assert.isEmpty(files.filter((file) => file.startsWith("test/") || file.startsWith("src/") || file.endsWith(".map")))
  })

  it("an Effect-only consumer type-checks with skipLibCheck: false and no openclaw, then runs", () => {
    assert.isFalse(existsSync(join(dir, "node_modules", "openclaw")))
    const tsc = join(repo, "node_modules", "typescript", "bin", "tsc")
    const checked = (() => {
      try {
        return execFileSync(process.execPath, [tsc, "-p", dir], { cwd: dir, encoding: "utf8" })
      } catch (error) {
        return `${(error as { stdout?: string }).stdout ?? ""}${String(error)}`
      }
    })()
    assert.strictEqual(checked.trim(), "")
    const output = execFileSync(process.execPath, ["consumer.ts"], { cwd: dir, encoding: "utf8", timeout: 30_000 })
    assert.include(output, "reply: HELLO FROM A CONSUMER!")
  }, 60_000)
})

describe("the insta-claw bin", () => {
  it("is one file that imports only Node built-ins, and runs the demo from the tarball with nothing beside it", () => {
    const bin = join(dir, "node_modules", pkg.name, pkg.bin["insta-claw"])
    const source = readFileSync(bin, "utf8")
    assert.match(source, /^#!\/usr\/bin\/env node\n/)
    const imported = [...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm)].map((match) => match[1]!)
    assert.deepStrictEqual(imported.filter((specifier) => !specifier.startsWith("node:")), [])
    const alone = mkdtempSync(join(tmpdir(), "instaclaw-bin-"))
    try {
      cpSync(join(dir, "node_modules", pkg.name), join(alone, "package"), { recursive: true })
      const output = execFileSync(process.execPath, [join(alone, "package", pkg.bin["insta-claw"]), "demo"], { cwd: alone, encoding: "utf8", timeout: 30_000 })
      assert.include(output, "3 of 3 replies came back complete")
    } finally {
      rmSync(alone, { recursive: true, force: true })
    }
  }, 60_000)
})

describe("the OpenClaw entry", () => {
  it("the package declares no dependencies, so OpenClaw's install has nothing to fetch or copy", () => {
    assert.isUndefined(pkg.dependencies)
    assert.isUndefined(pkg.optionalDependencies)
    assert.deepStrictEqual(Object.keys(pkg.peerDependencies).sort(), ["@effect/platform-node-shared", "effect", "openclaw", "ws"])
  })

  it("is one file that imports only Node built-ins and the OpenClaw SDK, and loads beside OpenClaw alone", () => {
    const entry = join(dir, "node_modules", pkg.name, "dist", "openclaw", "index.js")
    const source = readFileSync(entry, "utf8")
    const imported = [...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm)].map((match) => match[1]!)
    assert.isNotEmpty(imported)
    assert.deepStrictEqual(imported.filter((specifier) => !/^node:|^openclaw\/plugin-sdk\//.test(specifier)), [])
    // Loaded on first use (the media helpers), but from the same two places only.
    const loadedLater = [...source.matchAll(/\bimport\(\s*([^)]*)\)/g)].map((match) => match[1]!.trim())
    assert.deepStrictEqual(loadedLater.filter((specifier) => !/^["'](node:|openclaw\/plugin-sdk\/)/.test(specifier)), [], "dynamic imports: Node built-ins and the OpenClaw SDK only")
    // A folder as OpenClaw installs the plugin: the package, and a link to OpenClaw; no effect, no ws.
    const host = mkdtempSync(join(tmpdir(), "instaclaw-entry-"))
    try {
      cpSync(join(dir, "node_modules", pkg.name), join(host, "plugin"), { recursive: true })
      mkdirSync(join(host, "plugin", "node_modules"))
      symlinkSync(join(repo, "node_modules", "openclaw"), join(host, "plugin", "node_modules", "openclaw"), "dir")
      const loaded = execFileSync(process.execPath, ["--input-type=module", "-e", "const m = await import('./plugin/dist/openclaw/index.js'); console.log(m.default.id, typeof m.default.register)"], { cwd: host, encoding: "utf8", timeout: 60_000 })
      assert.strictEqual(loaded.trim(), "insta-claw-connector function")
    } finally {
      rmSync(host, { recursive: true, force: true })
    }
  }, 60_000)
})

/**
 * The module graph of `src/` keeps its shape: no import cycles, `internal/` re-exported by no
 * one, and nothing in the library reaching into the OpenClaw glue or the test helpers.
 */
import { assert, describe, it } from "vitest"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const src = fileURLToPath(new URL("../../src", import.meta.url))

const filesIn = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesIn(path) : path.endsWith(".ts") ? [path] : []
  })

const files = filesIn(src)
/** Relative imports and re-exports of each file, type-only ones included, as absolute paths. */
const edges = new Map(files.map((file) => {
  const text = readFileSync(file, "utf8")
  const targets = [...text.matchAll(/(?:import|export)[^"']*?from\s+["'](\.{1,2}\/[^"']+)["']/g)].map((m) => resolve(dirname(file), m[1]!))
  return [file, targets] as const
}))
const name = (file: string) => relative(src, file)

describe("src/ module boundaries", () => {
  it("has no import cycle", () => {
    const cycles: Array<string> = []
    const state = new Map<string, "visiting" | "done">()
    const visit = (file: string, path: Array<string>) => {
      if (state.get(file) === "done") return
      if (state.get(file) === "visiting") return void cycles.push([...path.slice(path.indexOf(file)), file].map(name).join(" → "))
      state.set(file, "visiting")
      for (const target of edges.get(file) ?? []) visit(target, [...path, file])
      state.set(file, "done")
    }
    for (const file of files) visit(file, [])
    assert.deepStrictEqual(cycles, [])
  })

  it("re-exports nothing from internal/, and internal/ imports no public facade", () => {
    for (const file of files.filter((f) => !name(f).startsWith("internal/"))) {
      const text = readFileSync(file, "utf8")
      // A re-export statement (`export * from`, `export { … } from`), not the word in a comment.
      assert.notMatch(text, /^export\s+(?:type\s+)?(?:\*|\{[^}]*\})(?:\s+as\s+\w+)?\s+from\s+["'][^"']*internal\//m, `${name(file)} re-exports internal/`)
    }
  })

  it("the library never imports the OpenClaw glue, the CLI or the test helpers", () => {
    const library = files.filter((f) => !/^(openclaw|testing)\/|^cli\.ts$/.test(name(f)))
    for (const file of library) {
      for (const target of edges.get(file) ?? []) {
        assert.notMatch(name(target), /^(openclaw|testing)\/|^cli\.ts$/, `${name(file)} imports ${name(target)}`)
      }
      assert.notMatch(readFileSync(file, "utf8"), /from\s+["']openclaw/, `${name(file)} imports openclaw`)
    }
  })
})

describe("docs/ARCHITECTURE.md", () => {
  it("names every source file, and no file that is gone", () => {
    const doc = readFileSync(new URL("../../docs/ARCHITECTURE.md", import.meta.url), "utf8")
    const named = (path: string) => doc.includes(`src/${path}`) || doc.includes(`\`${path}\``) || doc.includes(`\`${path.split("/").pop()}\``)
    const entries = files.map(name).filter((path) => !path.endsWith("index.ts") || path.startsWith("openclaw/"))
    assert.deepStrictEqual(entries.filter((path) => !named(path)), [])
    const mentioned = [...doc.matchAll(/`src\/([^`]+\.ts)`/g)].map((m) => m[1]!)
    assert.deepStrictEqual(mentioned.filter((path) => !files.map(name).includes(path)), [])
  })
})

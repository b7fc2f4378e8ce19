/**
 * The documentation names only what exists: every `src/…` path in the README and docs/ is in the
 * tree, and every relative link reaches a file and, where it names one, a heading there. Files
 * move often (splits, renames); without this a doc keeps citing the old place.
 */
import { assert, describe, it } from "vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
const docs = [
  "README.md",
  "CHANGELOG.md",
  ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)
].filter((doc) => existsSync(join(root, doc)))
const text = (doc: string) => readFileSync(join(root, doc), "utf8")

/** `src/…` paths as written in prose or code spans: a file, or a folder ending in `/` (a trailing `*` dropped). */
const srcPaths = (markdown: string): Array<string> =>
  [...markdown.matchAll(/(?<![\w./-])src\/[\w./*-]*/g)].map((m) => m[0].replace(/[.*]+$/, ""))

/** GitHub's anchor for a heading: lower case, code marks and punctuation dropped, spaces as `-`. */
const slug = (heading: string) =>
  heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-")

const anchors = (markdown: string): Set<string> => {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, "")
  for (const [, heading] of withoutCode.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(heading!)
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}

/** Relative markdown links (`[text](target)`), outside code blocks; web addresses left out. */
const links = (markdown: string): Array<string> =>
  [...markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z]+:/.test(target))

describe("the README and docs/", () => {
  it("are found", () => {
    assert.includeMembers(docs, ["README.md", "docs/ARCHITECTURE.md", "docs/PROTOCOL.md", "docs/OPENCLAW.md", "docs/PERFORMANCE.md"])
  })

  it("name no src/ path that is not in the tree", () => {
    const missing = docs
      .filter((doc) => doc !== "CHANGELOG.md") // history may name what was there then
      .flatMap((doc) => srcPaths(text(doc)).filter((path) => !existsSync(join(root, path))).map((path) => `${doc}: ${path}`))
    assert.deepStrictEqual(missing, [])
  })

  it("link only to files and headings that exist", () => {
    const broken = docs.flatMap((doc) =>
      links(text(doc)).flatMap((target) => {
        const [file, anchor] = target.split("#") as [string, string | undefined]
        const path = file === "" ? join(root, doc) : resolve(dirname(join(root, doc)), file)
        if (!existsSync(path)) return [`${doc}: ${target} (no such file)`]
        if (anchor === undefined || !path.endsWith(".md")) return []
        return anchors(readFileSync(path, "utf8")).has(anchor) ? [] : [`${doc}: ${target} (no heading #${anchor} in ${relative(root, path)})`]
      })
    )
    assert.deepStrictEqual(broken, [])
  })

  it("find paths as the docs write them", () => {
    assert.deepStrictEqual(
      srcPaths("see `src/connection/Link.ts`, src/openclaw/ and src/connector/*. Also node src/cli.ts."),
      ["src/connection/Link.ts", "src/openclaw/", "src/connector/", "src/cli.ts"]
    )
    assert.deepStrictEqual(srcPaths("dist/src/x.ts and my-src/y.ts"), [])
    assert.strictEqual(slug("## §5 Delivery".replace(/^#+/, "")), "5-delivery")
    assert.strictEqual(slug("The OpenClaw glue (`src/openclaw/`)"), "the-openclaw-glue-srcopenclaw")
  })
})

/**
 * Validates events against the official Open Responses schema vendored in `spec/` (its README
 * says where it comes from and how): every `*StreamingEvent` component, compiled with Ajv for JSON Schema 2020-12.
 */
import Ajv2020 from "ajv/dist/2020.js"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const specPath = fileURLToPath(new URL("../../spec/openresponses-openapi-2026-04-24.json", import.meta.url))

interface Spec {
  readonly components: { readonly schemas: Record<string, { readonly properties?: { readonly type?: { readonly enum?: ReadonlyArray<string> } } }> }
}

const spec = JSON.parse(readFileSync(specPath, "utf8")) as Spec
const ajv = new Ajv2020.default({ strict: false, allErrors: true })
ajv.addSchema({ $id: "or", components: spec.components })

/** Component name for each streaming event type, e.g. `response.created` → `ResponseCreatedStreamingEvent`. */
export const componentByType = new Map<string, string>(
  Object.entries(spec.components.schemas)
    .filter(([name]) => name.endsWith("StreamingEvent"))
    .map(([name, schema]) => [schema.properties!.type!.enum![0]!, name])
)

/** Returns the validation errors of one event against its official component, or `[]`. */
export const validateEvent = (event: { readonly type: string }): Array<string> => {
  const name = componentByType.get(event.type)
  if (name === undefined) return [`no official component for ${event.type}`]
  const validate = ajv.getSchema(`or#/components/schemas/${name}`)!
  if (validate(event)) return []
  return (validate.errors ?? []).map((error) => `${event.type}${error.instancePath} ${error.message}`)
}

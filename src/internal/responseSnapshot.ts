/**
 * The Open Responses `response` object of a reply: all 31 keys the schema requires (nullable ones
 * as `null`), with what changes between snapshots — status, output, error, incomplete reason.
 */

/** Everything the response object needs besides what changes between snapshots. */
export const responseSnapshot = (
  options: { readonly id: string; readonly createdAt: number; readonly model: string; readonly conversationId: string },
  state: {
    readonly status: "in_progress" | "completed" | "failed" | "incomplete"
    readonly completedAt: number | null
    readonly output: ReadonlyArray<unknown>
    readonly error: { readonly code: string; readonly message: string } | null
    readonly incompleteReason?: string | undefined
  }
) => ({
  id: options.id,
  object: "response",
  created_at: options.createdAt,
  completed_at: state.completedAt,
  status: state.status,
  incomplete_details: state.incompleteReason === undefined ? null : { reason: state.incompleteReason },
  model: options.model,
  previous_response_id: null,
  instructions: null,
  output: state.output,
  error: state.error,
  tools: [],
  tool_choice: "auto",
  truncation: "disabled",
  parallel_tool_calls: false,
  text: { format: { type: "text" } },
  top_p: 1,
  presence_penalty: 0,
  frequency_penalty: 0,
  top_logprobs: 0,
  temperature: 1,
  reasoning: null,
  usage: null,
  max_output_tokens: null,
  max_tool_calls: null,
  store: false,
  background: false,
  service_tier: "default",
  metadata: { conversation_id: options.conversationId },
  safety_identifier: null,
  prompt_cache_key: null
})

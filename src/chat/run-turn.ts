import { AppError, errorBody, toAppError } from '../errors.js';
import type { ChatMessage, ChatModel, Usage } from '../llm/chat-model.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { fitContextWindow } from './context-window.js';
import type { TurnEvent, TurnResponse } from './turn-events.js';

export interface TurnContext {
  /** The session's working copy; the turn appends to its history and usage. */
  session: SessionRecord;
  /** Id of this turn, sent in the `session` event and the response. */
  requestId: string;
  model: ChatModel;
  /** Saves the session; called at step boundaries only, never per token. */
  persist(session: SessionRecord): Promise<void>;
  signal: AbortSignal;
}

/**
 * One turn of the conversation: the user's input goes to the model, its answer streams back as
 * events. Ends with exactly one `done` or `error` event; never throws.
 */
export async function* runTurn(input: string, context: TurnContext): AsyncGenerator<TurnEvent> {
  const { session, requestId } = context;
  const usage: Usage = { prompt_tokens: 0, completion_tokens: 0 };
  yield { event: 'session', data: { session_id: session.id, request_id: requestId } };

  session.messages.push({ role: 'user', content: input });
  let text = '';
  try {
    await context.persist(session);
    const system: ChatMessage = { role: 'system', content: session.system_prompt };
    const messages = fitContextWindow(
      session.system_prompt ? system : undefined,
      session.messages,
      session.context_window_size,
    );
    const stream = context.model.stream(
      {
        model: session.model,
        messages,
        temperature: session.temperature,
        contextWindowSize: session.context_window_size,
      },
      context.signal,
    );
    for await (const part of stream) {
      if (part.type === 'text') {
        text += part.text;
        yield { event: 'token', data: { content: part.text } };
      } else if (part.type === 'finish' && part.usage) {
        usage.prompt_tokens += part.usage.prompt_tokens;
        usage.completion_tokens += part.usage.completion_tokens;
        session.last_prompt_tokens = part.usage.prompt_tokens;
      }
    }
    session.messages.push({ role: 'assistant', content: text });
    addUsage(session, usage);
    await context.persist(session);
    yield { event: 'done', data: response(session, requestId, text, usage) };
  } catch (caught) {
    const error = toAppError(caught);
    if (text) session.messages.push({ role: 'assistant', content: text });
    addUsage(session, usage);
    await context.persist(session).catch(() => undefined);
    yield { event: 'error', data: errorBody(error), status: error.status };
  }
}

function addUsage(session: SessionRecord, usage: Usage) {
  session.usage.prompt_tokens += usage.prompt_tokens;
  session.usage.completion_tokens += usage.completion_tokens;
}

function response(session: SessionRecord, requestId: string, message: string, usage: Usage): TurnResponse {
  return {
    request_id: requestId,
    requires_approval: false,
    tool: null,
    message,
    model: session.model,
    role: 'assistant',
    session_id: session.id,
    tool_calls: [],
    usage: { ...usage },
  };
}

/** Drains a turn for JSON mode: the `done` data, or the AppError of its `error` event. */
export async function collectTurn(events: AsyncIterable<TurnEvent>): Promise<TurnResponse> {
  for await (const event of events) {
    if (event.event === 'done') return event.data;
    if (event.event === 'error') {
      const { code, message, details } = event.data.error;
      throw new AppError(event.status, code, message, details);
    }
  }
  throw new AppError(500, 'internal_error', 'The turn ended without a result.');
}

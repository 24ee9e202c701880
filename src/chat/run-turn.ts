import type { ApprovalNotifier } from '../approvals/approval-notifier.js';
import { argumentsHash } from '../approvals/fingerprint.js';
import { grantOptions, liveGrants } from '../approvals/grants.js';
import { matchRules } from '../approvals/match-rules.js';
import {
  type ApprovalSettings,
  closeStep,
  editedText,
  endTurn,
  newToolCall,
  openCalls,
  settleOpenCalls,
} from '../approvals/tool-calls.js';
import { AppError, errorBody, toAppError } from '../errors.js';
import type { ChatMessage, ChatModel, ToolCall } from '../llm/chat-model.js';
import type { DirectoryGuard } from '../sessions/directory-guard.js';
import type { SessionRecord, ToolCallState, TurnState } from '../sessions/session-record.js';
import type { ToolInfo, ToolProvider } from '../tools/tool-provider.js';
import { truncateResult } from '../tools/tool-result-text.js';
import { fitContextWindow } from './context-window.js';
import type { TurnEvent } from './turn-events.js';
import { toolOf, toolResultEvent, turnResponse } from './turn-response.js';

export interface TurnSettings extends ApprovalSettings {
  maxToolRounds: number;
  maxToolResultChars: number;
}

export interface TurnDependencies {
  model: ChatModel;
  tools: ToolProvider;
  /** Where the path arguments of a call point, for the servers' rules. */
  directories: Pick<DirectoryGuard, 'locate'>;
  settings: TurnSettings;
  /** Saves the session; called at step boundaries only, never per token. */
  persist(session: SessionRecord): Promise<void>;
  newRequestId(): string;
  /** This run of the server: marks the turn while it runs, so that a restart can tell it was cut off. */
  runner: string;
  now(): number;
  /** Told of each call that starts to wait for a human, once it is saved; none when absent. */
  notifier?: ApprovalNotifier;
  /** Aborting it stops the turn: the model call and running tools are cancelled, the partial text kept. */
  signal: AbortSignal;
}

/** Starts a turn with the user's input. See `advanceTurn`. */
export function runTurn(
  session: SessionRecord,
  input: string,
  dependencies: TurnDependencies,
): AsyncGenerator<TurnEvent> {
  session.turns_started += 1;
  session.turn = {
    request_id: dependencies.newRequestId(),
    sequence: session.turns_started,
    rounds: 0,
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    tool_calls: [],
    message: '',
  };
  session.messages.push({ role: 'user', content: input });
  return advanceTurn(session, dependencies);
}

/**
 * Drives the session's turn as far as it can go: runs the approved calls of the open step, hands
 * their results to the model, and repeats while the model asks for tools that may run. Stops at
 * the first call that needs a human (`done` with `requires_approval`), at the final answer, or at
 * an error. Yields `session` first and exactly one `done` or `error` last; never throws.
 */
export async function* advanceTurn(session: SessionRecord, dependencies: TurnDependencies): AsyncGenerator<TurnEvent> {
  const turn = session.turn as TurnState;
  const { settings, signal } = dependencies;
  yield { event: 'session', data: { session_id: session.id, request_id: turn.request_id } };
  let streaming = false;
  try {
    turn.runner = dependencies.runner;
    await dependencies.persist(session);
    for (;;) {
      const open = openCalls(turn);
      if (open.some((call) => call.status === 'pending')) {
        // A stop that came while the step was being saved ends the turn instead of the wait.
        if (signal.aborted) throw signal.reason;
        yield { event: 'done', data: turnResponse(session, turn, turn.message) };
        return;
      }
      if (open.length > 0) {
        for (const call of open) {
          if (call.status === 'approved') yield* runTool(session, call, dependencies);
          else yield toolResultEvent(call);
        }
        closeStep(session);
        await dependencies.persist(session);
      }

      const tools = await dependencies.tools.list(session.current_directory);
      const offered = turn.rounds < settings.maxToolRounds ? tools : [];
      turn.message = '';
      const calls: ToolCall[] = [];
      streaming = true;
      const system: ChatMessage | undefined = session.system_prompt
        ? { role: 'system', content: session.system_prompt }
        : undefined;
      const stream = dependencies.model.stream(
        {
          model: session.model,
          messages: fitContextWindow(system, session.messages, session.context_window_size),
          temperature: session.temperature,
          contextWindowSize: session.context_window_size,
          tools: offered.map((tool) => ({
            name: tool.name,
            description: tool.description,
            parameters: tool.inputSchema,
          })),
        },
        signal,
      );
      for await (const part of stream) {
        if (part.type === 'text') {
          turn.message += part.text;
          yield { event: 'token', data: { content: part.text } };
        } else if (part.type === 'tool_call') {
          calls.push(part.call);
        } else if (part.usage) {
          for (const usage of [turn.usage, session.usage]) {
            usage.prompt_tokens += part.usage.prompt_tokens;
            usage.completion_tokens += part.usage.completion_tokens;
          }
          session.last_prompt_tokens = part.usage.prompt_tokens;
        }
      }
      streaming = false;
      session.messages.push({
        role: 'assistant',
        content: turn.message,
        ...(calls.length ? { tool_calls: calls } : {}),
      });

      if (calls.length === 0) {
        endTurn(session);
        await dependencies.persist(session);
        yield { event: 'done', data: turnResponse(session, turn, turn.message) };
        return;
      }
      if (turn.rounds >= settings.maxToolRounds) {
        const notice = `The model asked for tools more than ${settings.maxToolRounds} times in one turn (--max-tool-rounds); the turn ends here.`;
        for (const call of calls) {
          turn.tool_calls.push({
            request_id: dependencies.newRequestId(),
            call_id: call.id,
            name: call.name,
            server: '',
            arguments: call.arguments,
            status: 'not_run',
            is_error: true,
            result: `Not run: ${notice}`,
            closed: false,
          });
        }
        closeStep(session);
        endTurn(session);
        await dependencies.persist(session);
        yield { event: 'done', data: turnResponse(session, turn, turn.message || notice) };
        return;
      }
      turn.rounds += 1;
      const byName = new Map(tools.map((tool) => [tool.name, tool]));
      const locate = (path: string) => dependencies.directories.locate(session.current_directory, path);
      const matched = await Promise.all(
        calls.map((call) => {
          const rules = byName.get(call.name)?.rules;
          return rules?.length && call.invalidArguments === undefined ? matchRules(rules, call.arguments, locate) : [];
        }),
      );
      const now = dependencies.now();
      // Grants past their time, or made for a tool whose schema or annotations changed since, end here.
      session.grants = liveGrants(session.grants, tools, now);
      // Only a grant of the same arguments compares them.
      const comparesArguments = session.grants.some((grant) => typeof grant !== 'string' && grant.arguments === 'same');
      const hashes = await Promise.all(
        calls.map((call) => (comparesArguments ? argumentsHash(call.arguments) : undefined)),
      );
      const created = calls.map((call, index) =>
        newToolCall(call, byName, session.grants, {
          ...settings,
          requestId: dependencies.newRequestId(),
          now,
          matched: matched[index],
          argumentsHash: hashes[index],
        }),
      );
      turn.tool_calls.push(...created);
      // A step that waits on a human is not running: a restart leaves it waiting.
      if (created.some((state) => state.status === 'pending')) turn.runner = undefined;
      // Saved before anyone is told: an /approve that follows the event finds the call.
      await dependencies.persist(session);
      const pending = created.filter((state) => state.status === 'pending');
      for (const state of pending) {
        dependencies.notifier?.pending({
          sessionId: session.id,
          requestId: state.request_id,
          tool: { name: state.name, server: state.server },
          arguments: state.arguments,
          createdAt: now,
          expiresAt: state.expires_at ?? now + settings.approvalTtl,
        });
      }
      for (const state of pending) {
        yield {
          event: 'approval_required',
          data: {
            request_id: state.request_id,
            tool: toolOf(state),
            message: turn.message,
            ...(state.decided_by ? { decided_by: state.decided_by } : {}),
            grants: grantOptions(state, state.decided_by),
          },
        };
      }
    }
  } catch (caught) {
    if (streaming && turn.message) session.messages.push({ role: 'assistant', content: turn.message });
    // An abort for a failure (the server lost its lease on the turn) ends it as that error; any
    // other abort is a stop.
    const failure = signal.aborted && signal.reason instanceof AppError ? signal.reason : undefined;
    const stopped = signal.aborted && !failure;
    if (stopped || session.turn) {
      const why = signal.reason instanceof Error ? signal.reason.message : 'stopped by user';
      settleOpenCalls(turn, stopped ? why : 'the turn failed');
      closeStep(session);
    }
    endTurn(session);
    await dependencies.persist(session).catch(() => undefined);
    if (stopped) {
      yield { event: 'done', data: { ...turnResponse(session, turn, turn.message), stopped: true } };
    } else {
      const error = failure ?? toAppError(caught);
      yield { event: 'error', data: errorBody(error) };
    }
  }
}

async function* runTool(
  session: SessionRecord,
  call: ToolCallState,
  dependencies: TurnDependencies,
): AsyncGenerator<TurnEvent> {
  // The tool the call was decided on, never looked up again by the name offered to the model. A call
  // saved before calls carried `server_tool_name` has no such identity: it does not run.
  const tools = await dependencies.tools.list(session.current_directory);
  const tool: ToolInfo | undefined = tools.find(
    (candidate) => candidate.server === call.server && candidate.serverToolName === call.server_tool_name,
  );
  call.status = 'running';
  await dependencies.persist(session);
  yield {
    event: 'tool_call',
    data: {
      request_id: call.request_id,
      tool: toolOf(call),
      approved_by: call.approved_by ?? 'user',
      ...(call.decided_by ? { decided_by: call.decided_by } : {}),
    },
  };
  if (!tool) {
    Object.assign(call, {
      status: 'not_run',
      is_error: true,
      result: `The tool "${call.name}" is no longer available; it did not run.`,
    });
  } else {
    const progress: TurnEvent[] = [];
    let wake: (() => void) | undefined;
    const outcome = dependencies.tools
      .call(session.current_directory, tool, call.arguments, {
        signal: dependencies.signal,
        onProgress: (update) => {
          progress.push({ event: 'tool_progress', data: { request_id: call.request_id, ...update } });
          wake?.();
        },
      })
      .then((result) => ({ result }));
    for (;;) {
      const settled = await Promise.race([
        outcome,
        new Promise<undefined>((resolve) => (wake = () => resolve(undefined))),
      ]);
      while (progress.length > 0) yield progress.shift() as TurnEvent;
      if (settled) {
        const output = truncateResult(settled.result.content, dependencies.settings.maxToolResultChars);
        // The model is told when a person changed what it asked for, and what ran instead.
        const content = call.original_arguments ? `${editedText(call.arguments)}${output}` : output;
        Object.assign(call, {
          status: settled.result.isError ? 'failed' : 'executed',
          result: content,
          is_error: settled.result.isError,
        });
        break;
      }
    }
  }
  await dependencies.persist(session);
  yield toolResultEvent(call);
}

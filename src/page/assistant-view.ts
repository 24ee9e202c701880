import type { Decision, ReceivedEvent } from '../client/index.js';
import { h } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { type CallData, ToolCallView } from './tool-call-view.js';

export type Decide = (requestId: string, decision: Omit<Decision, 'request_id'>) => Promise<void>;

/**
 * The assistant's side of one turn: its text in Markdown, cut by groups of tool calls (the calls of
 * one step listed together), and a thinking indicator while nothing new has come.
 */
export class AssistantView {
  readonly element: HTMLElement;
  private text?: { element: HTMLElement; content: string; scheduled: boolean };
  private group?: HTMLElement;
  private readonly calls = new Map<string, ToolCallView>();
  private readonly thinkingIndicator = h('div', { class: 'thinking', role: 'status' }, h('span', {}), 'Thinking…');

  constructor(private readonly onChange: () => void) {
    this.element = h('article', { class: 'message assistant', 'aria-label': 'Assistant' });
  }

  thinking(on: boolean) {
    if (on) this.element.append(this.thinkingIndicator);
    else this.thinkingIndicator.remove();
    this.onChange();
  }

  /** Appends assistant text; the Markdown is rendered at most once a frame. */
  appendText(content: string, immediately = false) {
    if (!content) return;
    if (!this.text) {
      this.group = undefined;
      this.text = { element: h('div', { class: 'markdown' }), content: '', scheduled: false };
      this.place(this.text.element);
    }
    const text = this.text;
    text.content += content;
    if (immediately) return this.render(text);
    if (text.scheduled) return;
    text.scheduled = true;
    requestAnimationFrame(() => this.render(text));
  }

  private render(text: NonNullable<AssistantView['text']>) {
    text.scheduled = false;
    text.element.replaceChildren(renderMarkdown(text.content));
    this.onChange();
  }

  /** Places a block before the thinking indicator. */
  private place(element: HTMLElement) {
    if (this.thinkingIndicator.isConnected) this.thinkingIndicator.before(element);
    else this.element.append(element);
    this.onChange();
  }

  /** A tool call of the current step, keyed by its request id (or the provider's call id in history). */
  call(key: string, data: CallData): ToolCallView {
    const existing = this.calls.get(key);
    if (existing) return existing;
    if (this.text) {
      this.render(this.text);
      this.text = undefined;
    }
    if (!this.group) {
      this.group = h('div', { class: 'calls' });
      this.place(this.group);
    }
    const view = new ToolCallView(data);
    this.calls.set(key, view);
    this.group.append(view.element);
    this.onChange();
    return view;
  }

  hasCall(key: string) {
    return this.calls.has(key);
  }

  /** Shows a turn event; `decide` sends a decision for an approval card. */
  show(event: ReceivedEvent, decide: Decide) {
    switch (event.event) {
      case 'token':
        this.appendText(event.data.content);
        break;
      case 'approval_required': {
        const view = this.call(event.data.request_id, event.data.tool);
        view.ask((decision) => decide(event.data.request_id, decision), {
          grants: event.data.grants,
          decidedBy: event.data.decided_by,
        });
        break;
      }
      case 'tool_call':
        this.call(event.data.request_id, event.data.tool).running(event.data.decided_by);
        break;
      case 'tool_progress':
        this.calls.get(event.data.request_id)?.progress(event.data.progress, event.data.total, event.data.message);
        break;
      case 'tool_result':
        this.call(event.data.request_id, { ...event.data.tool, arguments: {} }).result(
          event.data.content,
          event.data.is_error,
          event.data.status,
        );
        break;
      case 'done':
        if (this.text) this.render(this.text);
        // A call the configuration refused has no tool_call: what refused it comes with done.
        for (const call of event.data.tool_calls) this.calls.get(call.request_id)?.showDecidedBy(call.decided_by);
        if (event.data.stopped) this.note('Stopped.');
        break;
      case 'error':
        this.note(event.data.error.message, 'error');
        break;
    }
  }

  note(text: string, kind = '') {
    this.place(h('p', { class: `note ${kind}`, role: kind === 'error' ? 'alert' : undefined }, text));
  }

  /** The whole answer as text, for the screen reader's announcement. */
  plainText(): string {
    return this.element.textContent ?? '';
  }
}

import type { Decision } from '../client/index.js';
import { h } from './dom.js';

/** One value of a tool's arguments: text as text (a file's content with its newlines), long ones folded. */
function argumentValue(name: string, value: unknown): HTMLElement {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const long = text.length > 240 || text.split('\n').length > 6;
  const pre = h('pre', { class: 'value' }, text);
  if (!long) return h('div', { class: 'argument' }, h('span', { class: 'name' }, name), pre);
  const lines = text.split('\n').length;
  return h(
    'details',
    { class: 'argument' },
    h('summary', {}, h('span', { class: 'name' }, name), ` (${lines} lines, ${text.length} characters)`),
    pre,
  );
}

export interface CallData {
  name: string;
  server?: string;
  arguments: Record<string, unknown>;
}

const denialText = (reason?: string) => (reason ? `denied: ${reason}` : 'denied');

/**
 * A tool call under the assistant's message: what it runs, its decision (with buttons while it
 * waits), its status, and its result, folded.
 */
export class ToolCallView {
  readonly element: HTMLElement;
  private readonly status: HTMLElement;
  private actions?: HTMLElement;
  /** The denial sent or shown, which a result that comes after keeps. */
  private denial?: string;
  /** A result came: the call's status is final. */
  private ended = false;

  constructor(call: CallData) {
    const args = Object.entries(call.arguments);
    this.status = h('span', { class: 'status' });
    this.element = h(
      'div',
      { class: 'call', role: 'group', 'aria-label': `Tool call ${call.name}` },
      h(
        'div',
        { class: 'call-head' },
        h('span', { class: 'tool' }, call.server ? `${call.server} · ` : '', h('strong', {}, call.name)),
        this.status,
      ),
      args.length > 0
        ? h('div', { class: 'arguments' }, ...args.map(([name, value]) => argumentValue(name, value)))
        : h('div', { class: 'arguments empty' }, 'no arguments'),
    );
  }

  setStatus(text: string, kind = '') {
    this.status.textContent = text;
    this.status.className = `status ${kind}`;
  }

  /** Approve / Allow for this session / Deny with a reason; `decide` sends the decision. */
  ask(decide: (decision: Omit<Decision, 'request_id'>) => Promise<void>) {
    if (this.actions) return;
    this.element.classList.add('pending');
    this.setStatus('waits for your decision', 'waiting');
    const reason = h('input', { type: 'text', class: 'reason', placeholder: 'Reason (told to the model)' });
    const label = h(
      'label',
      { class: 'reason-label' },
      h('span', { class: 'visually-hidden' }, 'Reason for denying'),
      reason,
    );
    const error = h('p', { class: 'call-error', role: 'alert' });
    const buttons = [
      h('button', { type: 'button', class: 'approve' }, 'Approve'),
      h('button', { type: 'button', class: 'remember' }, 'Allow for this session'),
      h('button', { type: 'button', class: 'deny' }, 'Deny'),
    ];
    const decisions: Array<Omit<Decision, 'request_id'>> = [
      { approve: true },
      { approve: true, remember: 'session' },
      { approve: false },
    ];
    buttons.forEach((button, index) => {
      button.addEventListener('click', async () => {
        const decision = { ...decisions[index] };
        if (!decision.approve && reason.value.trim()) decision.reason = reason.value.trim();
        for (const other of [...buttons, reason]) other.disabled = true;
        error.textContent = '';
        // The continuation (this call's result first) may come before the answer to the decision.
        this.denial = decision.approve ? undefined : denialText(decision.reason);
        this.element.setAttribute('aria-busy', 'true');
        try {
          await decide(decision);
          this.decided(decision);
        } catch (failure) {
          this.denial = undefined;
          error.textContent = `Could not send the decision: ${(failure as Error).message}`;
          for (const other of [...buttons, reason]) other.disabled = false;
        } finally {
          this.element.removeAttribute('aria-busy');
        }
      });
    });
    this.actions = h('div', { class: 'actions' }, h('div', { class: 'buttons' }, ...buttons), label, error);
    this.element.append(this.actions);
  }

  decided(decision: Omit<Decision, 'request_id'>) {
    this.closeActions();
    // A result that came first says how the call ended; the decision does not overwrite it.
    if (this.ended) return;
    if (!decision.approve) {
      this.denial = denialText(decision.reason);
      this.setStatus(this.denial, 'denied');
    } else this.setStatus(decision.remember === 'session' ? 'allowed for this session' : 'approved', 'approved');
  }

  closeActions() {
    this.element.classList.remove('pending');
    this.actions?.remove();
    this.actions = undefined;
  }

  running(approvedBy?: 'user' | 'policy') {
    this.closeActions();
    this.setStatus(approvedBy === 'policy' ? 'running (allowed by a rule)' : 'running…', 'running');
  }

  progress(progress: number, total?: number, message?: string) {
    const share = total ? ` ${Math.round((progress / total) * 100)} %` : '';
    this.setStatus(`running…${share}${message ? ` ${message}` : ''}`, 'running');
  }

  /** The call's result; `status` is the server's word on how it ended (history has none). */
  result(content: string, isError: boolean, status?: 'executed' | 'denied' | 'not_run') {
    this.closeActions();
    this.ended = true;
    if (status === 'denied' || (status === undefined && this.denial)) this.setStatus(this.denial ?? 'denied', 'denied');
    else if (status === 'not_run') this.setStatus('not run', 'failed');
    else this.setStatus(isError ? 'failed' : 'done', isError ? 'failed' : 'done');
    const details = h(
      'details',
      { class: `result${isError ? ' is-error' : ''}` },
      h('summary', {}, isError ? 'Result (error)' : 'Result'),
      h('pre', {}, content),
    );
    this.element.append(details);
  }
}

import type { Decision, Remember, TurnEvent } from '../client/index.js';
import { h } from './dom.js';

type ApprovalData = Extract<TurnEvent, { event: 'approval_required' }>['data'];
export type DecidedBy = NonNullable<ApprovalData['decided_by']>;
export type GrantOptions = NonNullable<ApprovalData['grants']>;

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

const units: Record<string, string> = { ms: 'milliseconds', s: 'seconds', m: 'minutes', h: 'hours', d: 'days' };
/** `10m` as "10 minutes". */
const spoken = (duration: string) =>
  duration.replace(/^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/, (_, amount, unit = 's') => `${amount} ${units[unit]}`);

const sameRemember = (one: Remember | undefined, other: Remember | undefined) =>
  JSON.stringify(typeof one === 'object' ? [one.for, one.arguments ?? 'any'] : (one ?? 'once')) ===
  JSON.stringify(typeof other === 'object' ? [other.for, other.arguments ?? 'any'] : (other ?? 'once'));

/** What an approval said it also approves, as the call's status. */
function approvedText(remember: Remember | undefined) {
  if (remember === 'session') return 'allowed for this session';
  if (typeof remember !== 'object') return 'approved';
  if (remember.arguments === 'same') return 'allowed for these arguments';
  return remember.for === 'session' ? 'allowed for this session' : `approved for ${spoken(remember.for)}`;
}

const clockTime = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** What decided the call without asking, or made it ask, in a few words. */
export function decidedByText(by: DecidedBy): string {
  switch (by.kind) {
    case 'rule': {
      const verb = { allow: 'allowed', ask: 'asked', deny: 'refused' }[by.rule.decision];
      return `${verb} by rule ${by.index + 1} of ${by.server}`;
    }
    case 'list':
      return by.list === 'deny'
        ? `refused by the deny list of ${by.server}`
        : `allowed by the autoApprove list of ${by.server}`;
    case 'grant': {
      const scope = [
        by.arguments === 'same' ? 'these arguments' : '',
        by.expires_at ? `until ${clockTime(by.expires_at)}` : 'this session',
      ].filter(Boolean);
      return `allowed by an earlier approval (${scope.join(', ')})`;
    }
    case 'read_only_hint':
      return 'allowed as read-only, as its server marks it';
  }
}

/** The approval card's choices; `remember` picks the matching `grants` option for the button's title. */
const choices: Array<{ label: string; className: string; decision: Omit<Decision, 'request_id'> }> = [
  { label: 'Approve', className: 'approve', decision: { approve: true } },
  { label: 'Approve for 10 minutes', className: 'remember', decision: { approve: true, remember: { for: '10m' } } },
  { label: 'Allow for this session', className: 'remember', decision: { approve: true, remember: 'session' } },
  {
    label: 'Always for these arguments',
    className: 'remember',
    decision: { approve: true, remember: { for: 'session', arguments: 'same' } },
  },
  { label: 'Deny', className: 'deny', decision: { approve: false } },
];

/**
 * A tool call under the assistant's message: what it runs, its decision (with buttons while it
 * waits), its status, and its result, folded.
 */
export class ToolCallView {
  readonly element: HTMLElement;
  private readonly status: HTMLElement;
  private readonly decidedBy: HTMLElement;
  private actions?: HTMLElement;
  /** The denial sent or shown, which a result that comes after keeps. */
  private denial?: string;
  /** A result came: the call's status is final. */
  private ended = false;

  constructor(call: CallData) {
    const args = Object.entries(call.arguments);
    this.status = h('span', { class: 'status' });
    this.decidedBy = h('p', { class: 'decided-by', hidden: true });
    this.element = h(
      'div',
      { class: 'call', role: 'group', 'aria-label': `Tool call ${call.name}` },
      h(
        'div',
        { class: 'call-head' },
        h('span', { class: 'tool' }, call.server ? `${call.server} · ` : '', h('strong', {}, call.name)),
        this.status,
      ),
      this.decidedBy,
      args.length > 0
        ? h('div', { class: 'arguments' }, ...args.map(([name, value]) => argumentValue(name, value)))
        : h('div', { class: 'arguments empty' }, 'no arguments'),
    );
  }

  setStatus(text: string, kind = '') {
    this.status.textContent = text;
    this.status.className = `status ${kind}`;
  }

  /** What decided the call without asking, or made it ask, under its name. */
  showDecidedBy(by: DecidedBy | undefined) {
    if (!by) return;
    this.decidedBy.textContent = decidedByText(by);
    this.decidedBy.hidden = false;
  }

  /**
   * Approve (once, for 10 minutes, for the session, for these arguments) / Deny with a reason;
   * `decide` sends the decision. Each button's title says what it would approve (`grants`).
   */
  ask(
    decide: (decision: Omit<Decision, 'request_id'>) => Promise<void>,
    context: { grants?: GrantOptions; decidedBy?: DecidedBy } = {},
  ) {
    if (this.actions) return;
    this.showDecidedBy(context.decidedBy);
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
    const buttons = choices.map(({ label, className, decision }) => {
      const covers = decision.approve
        ? context.grants?.find((option) => sameRemember(option.remember, decision.remember))?.covers
        : undefined;
      return h('button', { type: 'button', class: className, title: covers && `Approves ${covers}` }, label);
    });
    buttons.forEach((button, index) => {
      button.addEventListener('click', async () => {
        const decision = { ...choices[index].decision };
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
    } else this.setStatus(approvedText(decision.remember), 'approved');
  }

  closeActions() {
    this.element.classList.remove('pending');
    this.actions?.remove();
    this.actions = undefined;
  }

  running(decidedBy?: DecidedBy) {
    this.closeActions();
    this.showDecidedBy(decidedBy);
    this.setStatus('running…', 'running');
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

import { ChatClientError, createChatClient, type ReceivedEvent, type SessionState } from '../client/index.js';
import { AssistantView, type Decide } from './assistant-view.js';
import { forgetChat, listChats, touchChat } from './chats.js';
import { byId, h } from './dom.js';
import type { ToolCallView } from './tool-call-view.js';

const tokenKey = 'llm-chat-server.token';
const client = createChatClient({
  token: () => sessionStorage.getItem(tokenKey) ?? undefined,
  retryDelays: [250, 1000, 2000],
});

const log = byId('log');
const form = byId<HTMLFormElement>('composer');
const input = byId<HTMLTextAreaElement>('input');
const sendButton = byId<HTMLButtonElement>('send');
const stopButton = byId<HTMLButtonElement>('stop');
const notice = byId('notice');
const connection = byId('connection');
const announcer = byId('announcer');
const chatList = byId('chats');
const sidebar = byId('sidebar');
const toggleChats = byId<HTMLButtonElement>('toggle-chats');
const tokenForm = byId<HTMLFormElement>('token-form');
const tokenInput = byId<HTMLInputElement>('token');
const tokenMessage = byId('token-message');

type Mode = 'idle' | 'running' | 'approval' | 'loading';
let sessionId: string | undefined;
let mode: Mode = 'idle';
/** Bumped when the page shows another chat: streams of the one before stop drawing. */
let generation = 0;
let aborter = new AbortController();
/** Streams of this chat open in this tab; a decision then continues on one of them. */
let openStreams = 0;
/** How many streams of this page have ended with `done` or `error`. */
let streamsEnded = 0;
let stick = true;

const placeholders: Record<Mode, string> = {
  idle: 'Ask something',
  running: 'The answer is coming; press Stop to end it',
  approval: 'Decide the tool calls above first',
  loading: 'Loading…',
};

function setMode(next: Mode) {
  mode = next;
  const busy = next !== 'idle';
  input.disabled = busy;
  sendButton.disabled = busy;
  stopButton.hidden = next !== 'running' && next !== 'approval';
  input.placeholder = placeholders[next];
  document.body.dataset.mode = next;
  if (!busy) input.focus();
}

const changed = () => {
  if (stick) log.scrollTop = log.scrollHeight;
};
log.addEventListener('scroll', () => {
  stick = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
});

function showNotice(text: string, action?: { label: string; run: () => void }) {
  const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss' }, '×');
  close.addEventListener('click', hideNotice);
  const button = action && h('button', { type: 'button' }, action.label);
  button?.addEventListener('click', () => {
    hideNotice();
    action?.run();
  });
  notice.replaceChildren(h('p', {}, text), button ?? '', close);
  notice.hidden = false;
}

function hideNotice() {
  notice.hidden = true;
  notice.replaceChildren();
}

/** What went wrong, in words, with what to do about it. */
function explain(error: unknown): string {
  if (!(error instanceof ChatClientError)) return `Something went wrong: ${String(error)}`;
  switch (error.code) {
    case 'network_error':
      return 'The server cannot be reached. Check that it is running and that this computer is online, then try again.';
    case 'approval_pending':
      return 'Tool calls of this chat wait for your decision: decide them first.';
    case 'turn_in_progress':
      return 'This chat is answering already (perhaps in another tab): the page follows that answer.';
    case 'unknown_session':
      return 'This chat is no longer on the server: it expired, or the server restarted without storage. Start a new chat.';
    case 'upstream_error':
    case 'upstream_unavailable':
    case 'upstream_timeout':
      return `${error.message} Check that the model server is running, then try again.`;
    case 'rate_limited':
    case 'too_many_sessions':
      return `${error.message} Try again in a minute.`;
    default:
      return error.message;
  }
}

const codeOf = (error: unknown) => (error instanceof ChatClientError ? error.code : undefined);

/** Asks for the server's token (once per tab: it is kept in sessionStorage). */
function askToken(rejected: boolean): Promise<void> {
  tokenMessage.textContent = rejected
    ? 'That token was not accepted. Enter the token the server was started with (--auth-token).'
    : 'This server needs its access token: the --auth-token it was started with.';
  tokenForm.hidden = false;
  tokenInput.value = '';
  tokenInput.focus();
  return new Promise((resolve) => {
    tokenForm.onsubmit = (event) => {
      event.preventDefault();
      sessionStorage.setItem(tokenKey, tokenInput.value.trim());
      tokenForm.hidden = true;
      resolve();
    };
  });
}

/** Runs a request, asking for the token and trying again while the server answers 401. */
async function authorized<T>(action: () => Promise<T>): Promise<T> {
  while (true) {
    try {
      return await action();
    } catch (error) {
      if (codeOf(error) !== 'unauthorized') throw error;
      await askToken(Boolean(sessionStorage.getItem(tokenKey)));
    }
  }
}

function renderChats() {
  const entries = listChats();
  chatList.replaceChildren(
    ...entries.map((entry) =>
      h(
        'li',
        {},
        h('a', { href: `#${entry.id}`, 'aria-current': entry.id === sessionId ? 'page' : undefined }, entry.title),
      ),
    ),
  );
  if (entries.length === 0) chatList.append(h('li', { class: 'empty' }, 'No chats yet'));
}

function addUser(text: string) {
  const element = h('article', { class: 'message user', 'aria-label': 'You' }, h('div', { class: 'text' }, text));
  log.append(element);
  stick = true;
  changed();
  return element;
}

function addAssistant() {
  const view = new AssistantView(changed);
  log.append(view.element);
  return view;
}

const streamOptions = (id: string) => ({
  sessionId: id,
  signal: aborter.signal,
  onReconnecting: () => {
    connection.textContent = 'Connection lost: reconnecting…';
    connection.className = 'offline';
  },
  onReconnected: () => {
    connection.textContent = '';
    connection.className = '';
  },
});

/** Decisions of this view's cards; a continuation that comes back is shown in the same view. */
function decider(id: string, view: AssistantView): Decide {
  return async (requestId, decision) => {
    const ended = streamsEnded;
    const outcome = await authorized(() =>
      client.decide([{ request_id: requestId, ...decision }], { ...streamOptions(id) }),
    );
    if (outcome.kind === 'continued') {
      setMode('running');
      void consume(id, view, outcome.events);
    } else if (outcome.kind === 'accepted' && openStreams === 0 && streamsEnded === ended) {
      // Another tab's stream carries the continuation (ours did not, or it would have ended
      // since): show it from the server's record.
      void loadChat(id);
    }
  };
}

/** Shows a turn's events as they come; resynchronises from the server if the stream ends early. */
async function consume(id: string, view: AssistantView, events: AsyncIterable<ReceivedEvent>, sent?: () => void) {
  const mine = generation;
  const decide = decider(id, view);
  let terminal = false;
  let started = false;
  openStreams += 1;
  view.thinking(true);
  try {
    for await (const event of events) {
      if (mine !== generation) return;
      if (event.event === 'session') {
        started = true;
        sent?.();
      }
      view.show(event, decide);
      if (event.event === 'token' || event.event === 'approval_required') view.thinking(false);
      if (event.event === 'approval_required') setMode('approval');
      if (event.event === 'tool_call') setMode('running');
      if (event.event === 'tool_result') view.thinking(true);
      if (event.event === 'done' || event.event === 'error') {
        terminal = true;
        streamsEnded += 1;
        view.thinking(false);
        announcer.textContent = view.plainText().slice(-600);
        setMode(event.event === 'done' && event.data.requires_approval && !event.data.stopped ? 'approval' : 'idle');
      }
    }
  } catch (error) {
    if (mine !== generation) return;
    view.thinking(false);
    if (codeOf(error) === 'unknown_session') return chatGone(id);
    // A send that never started is reported by its caller, which puts the question back.
    if (sent && !started) throw error;
    showNotice(explain(error));
    setMode('idle');
    return;
  } finally {
    openStreams -= 1;
    if (mine === generation) {
      connection.textContent = '';
      connection.className = '';
    }
  }
  // The stream ended without done or error (the turn ended while the page was away): show the record.
  if (!terminal && mine === generation) await loadChat(id);
}

function chatGone(id: string) {
  forgetChat(id);
  if (sessionId === id) {
    history.replaceState(null, '', location.pathname);
    sessionId = undefined;
    renderChats();
    setMode('idle');
  }
  showNotice(explain(new ChatClientError('unknown_session', '', 404)), {
    label: 'New chat',
    run: () => void loadChat(undefined),
  });
}

async function sendInput(text: string) {
  hideNotice();
  setMode('running');
  let id = sessionId;
  const user = addUser(text);
  const view = addAssistant();
  let started = false;
  try {
    if (!id) {
      const state = await authorized(() => client.startSession());
      id = state.session_id;
      sessionId = id;
      history.replaceState(null, '', `#${id}`);
    }
    touchChat(id, text.replace(/\s+/g, ' ').slice(0, 60));
    renderChats();
    const chat = id;
    await consume(chat, view, client.send(text, streamOptions(chat)), () => {
      started = true;
    });
  } catch (error) {
    if (started) return;
    user.remove();
    view.element.remove();
    if (!input.value) input.value = text;
    const code = codeOf(error);
    if (code === 'unknown_session' && id) return chatGone(id);
    showNotice(explain(error));
    if ((code === 'approval_pending' || code === 'turn_in_progress') && id) return loadChat(id, true);
    setMode('idle');
  }
}

/** Renders the history of a session: tool calls under their message, each result under its call. */
function renderHistory(state: SessionState): AssistantView | undefined {
  let messages = state.messages.filter((message) => message.role !== 'system');
  if (state.status === 'running') {
    // The running turn is replayed from its first event: its messages are shown from that.
    const lastUser = messages.findLastIndex((message) => message.role === 'user');
    messages = messages.slice(0, lastUser + 1);
  }
  const answered = new Set(messages.map((message) => message.tool_call_id).filter(Boolean));
  const lastAssistant = messages.findLastIndex((message) => message.role === 'assistant');
  const calls = new Map<string, ToolCallView>();
  let view: AssistantView | undefined;
  messages.forEach((message, index) => {
    if (message.role === 'user') {
      addUser(message.content);
      view = undefined;
      return;
    }
    view ??= addAssistant();
    if (message.role === 'assistant') {
      view.appendText(message.content, true);
      for (const call of message.tool_calls ?? []) {
        // Calls still waiting are shown as cards from pending_approvals.
        if (!answered.has(call.id) && state.status === 'awaiting_approval' && index === lastAssistant) continue;
        calls.set(call.id, view.call(call.id, { name: call.name, arguments: call.arguments }));
      }
    } else if (message.role === 'tool' && message.tool_call_id) {
      const call =
        calls.get(message.tool_call_id) ??
        view.call(message.tool_call_id, { name: message.name ?? 'tool', arguments: {} });
      call.result(message.content, message.is_error ?? false, message.status);
    }
  });
  return view;
}

/** Shows a chat as the server has it: its history, its pending approvals, and its running turn, followed. */
async function loadChat(id: string | undefined, keepNotice = false) {
  generation += 1;
  aborter.abort();
  aborter = new AbortController();
  const mine = generation;
  sessionId = id;
  log.replaceChildren();
  if (!keepNotice) hideNotice();
  renderChats();
  sidebar.classList.remove('open');
  toggleChats.setAttribute('aria-expanded', 'false');
  if (!id) {
    setMode('idle');
    return;
  }
  setMode('loading');
  let state: SessionState;
  try {
    state = await authorized(() => client.sessionState(id));
  } catch (error) {
    if (mine !== generation) return;
    if (codeOf(error) === 'unknown_session') return chatGone(id);
    showNotice(explain(error), { label: 'Try again', run: () => void loadChat(id) });
    if (codeOf(error) === 'network_error') {
      connection.textContent = 'Server unreachable: retrying…';
      connection.className = 'offline';
      setTimeout(() => mine === generation && void loadChat(id, true), 2000);
    }
    return;
  }
  if (mine !== generation) return;
  connection.textContent = '';
  connection.className = '';
  let view = renderHistory(state);
  stick = true;
  changed();
  if (state.status === 'running') {
    setMode('running');
    await consume(id, addAssistant(), client.follow(streamOptions(id))).catch(() => {});
  } else if (state.status === 'awaiting_approval') {
    view ??= addAssistant();
    const decide = decider(id, view);
    for (const pending of state.pending_approvals) {
      const card = view.call(pending.request_id, pending.tool);
      card.ask((decision) => decide(pending.request_id, decision), {
        grants: pending.grants,
        decidedBy: pending.decided_by,
      });
    }
    setMode('approval');
  } else {
    setMode('idle');
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text || mode !== 'idle') return;
  input.value = '';
  resize();
  void sendInput(text);
});

input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

function resize() {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, window.innerHeight * 0.4)}px`;
}
input.addEventListener('input', resize);

stopButton.addEventListener('click', async () => {
  const id = sessionId;
  if (!id) return;
  stopButton.disabled = true;
  try {
    await authorized(() => client.stop(id));
    // With no stream of this tab to carry the `done`, show the record.
    if (openStreams === 0 && mode !== 'idle') await loadChat(id);
  } catch (error) {
    if (codeOf(error) === 'no_turn_running') await loadChat(id);
    else showNotice(explain(error));
  } finally {
    stopButton.disabled = false;
  }
});

byId('new-chat').addEventListener('click', () => {
  if (location.hash) location.hash = '';
  else void loadChat(undefined);
});

toggleChats.addEventListener('click', () => {
  const open = sidebar.classList.toggle('open');
  toggleChats.setAttribute('aria-expanded', String(open));
});

window.addEventListener('hashchange', () => void loadChat(location.hash.slice(1) || undefined));
window.addEventListener('storage', renderChats);

void loadChat(location.hash.slice(1) || undefined);

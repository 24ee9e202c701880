/** A chat this browser knows: the session's id, a title (its first question) and when it was last used. */
export interface ChatEntry {
  id: string;
  title: string;
  updated: number;
}

const key = 'llm-chat-server.chats';

/** The chats of this browser, newest first (ids kept in localStorage; the server holds the rest). */
export function listChats(): ChatEntry[] {
  try {
    const entries = JSON.parse(localStorage.getItem(key) ?? '[]') as ChatEntry[];
    return Array.isArray(entries) ? entries.filter((entry) => typeof entry?.id === 'string') : [];
  } catch {
    return [];
  }
}

function save(entries: ChatEntry[]) {
  localStorage.setItem(key, JSON.stringify(entries.slice(0, 200)));
}

export function touchChat(id: string, title?: string) {
  const entries = listChats();
  const existing = entries.find((entry) => entry.id === id);
  const entry = { id, title: existing?.title || title || 'New chat', updated: Date.now() };
  save([entry, ...entries.filter((other) => other.id !== id)]);
}

export function forgetChat(id: string) {
  save(listChats().filter((entry) => entry.id !== id));
}

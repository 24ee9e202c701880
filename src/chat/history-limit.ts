import type { SessionRecord } from '../sessions/session-record.js';
import { keptExchangesStart, messageCharacters } from './context-window.js';

/**
 * Cuts the session's stored history to at most `maxCharacters`, dropping its oldest whole
 * exchanges (a user message and everything up to the next one, so a tool call keeps its result)
 * and counting them in `dropped_messages`. The latest exchange, the one a turn adds to, is always
 * kept. Returns whether anything was dropped.
 */
export function limitHistory(record: SessionRecord, maxCharacters: number): boolean {
  const start = keptExchangesStart(record.messages, maxCharacters, messageCharacters);
  if (start === 0) return false;
  record.messages.splice(0, start);
  record.dropped_messages = (record.dropped_messages ?? 0) + start;
  return true;
}

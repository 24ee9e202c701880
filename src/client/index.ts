export type { Remember } from '../approvals/grants.js';
export type { Tool, ToolCallRecord, TurnEvent, TurnResponse } from '../chat/turn-events.js';
export type { ErrorCode } from '../errors.js';
export type { SessionState } from '../http/schemas.js';
export {
  type ChatClient,
  type ChatClientOptions,
  createChatClient,
  type Decision,
  type DecisionOutcome,
  type SessionOptions,
  type StreamOptions,
} from './chat-client.js';
export { ChatClientError, type ChatClientErrorCode } from './errors.js';
export type { ReceivedEvent } from './event-stream.js';

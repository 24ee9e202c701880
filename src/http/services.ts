import type { AppConfig } from '../app-config.js';
import type { Conversations } from '../chat/conversations.js';
import type { Logger } from '../logger.js';
import type { ToolProvider } from '../tools/tool-provider.js';

/** What the routes use. */
export interface Services {
  config: AppConfig;
  conversations: Conversations;
  tools: ToolProvider;
  logger: Logger;
  version: string;
}

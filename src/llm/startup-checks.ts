import { ruleWarnings } from '../approvals/rule-warnings.js';
import type { Logger } from '../logger.js';
import { defaultSystemPrompt } from '../sessions/session-service.js';
import type { ServersConfig } from '../tools/servers-config.js';
import type { ToolProvider } from '../tools/tool-provider.js';
import type { Provider } from './provider.js';
import { apiKeyWarning, contextWindowWarning, probeWarning } from './startup-warnings.js';
import type { UpstreamStatus } from './upstream-status.js';

export interface StartupCheckSettings {
  provider: Provider;
  model: string;
  ollamaBaseUrl: string;
  openaiBaseUrl: string;
  apiKey?: string;
  systemPrompt?: string;
  contextWindowSize: number;
  currentDirectory: string;
}

/**
 * The start-up checks of a long-lived server, each warning in one line: the LLM (probed once; the
 * server listens meanwhile), the API key, and whether the system prompt and the default
 * directory's tools leave room in the context window, and whether every rule of `servers` can apply
 * to a tool its server offers there. Resolves when all are done; never rejects.
 */
export async function startupChecks(options: {
  settings: StartupCheckSettings;
  upstream: UpstreamStatus;
  tools: ToolProvider;
  logger: Logger;
  servers?: ServersConfig;
}) {
  const { settings, logger } = options;
  const keyWarning = apiKeyWarning(settings);
  if (keyWarning) logger.warn(keyWarning);
  await Promise.all([
    options.upstream.refresh().then((outcome) => {
      const warning = probeWarning(outcome, settings);
      if (warning) logger.warn(warning);
      else logger.info(`the ${settings.provider} LLM is reachable`, { model: settings.model });
    }),
    options.tools.list(settings.currentDirectory).then(
      async (tools) => {
        const systemPrompt = settings.systemPrompt ?? defaultSystemPrompt(settings.currentDirectory);
        const warning = contextWindowWarning(systemPrompt, tools, settings.contextWindowSize);
        if (warning) logger.warn(warning);
        for (const ruleWarning of await ruleWarnings(options.servers ?? {}, tools, options.tools.status())) {
          logger.warn(ruleWarning);
        }
      },
      () => {},
    ),
  ]);
}

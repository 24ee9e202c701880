import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ToolProvider } from './tool-provider.js';

/** `tools` with one `debug` line per tool call: server, tool, duration, outcome (`ok`, `error`, `aborted`). */
export function observedTools(tools: ToolProvider, logger: Logger, clock: Clock): ToolProvider {
  return {
    list: (directory) => tools.list(directory),
    status: () => tools.status(),
    close: () => tools.close(),
    async call(directory, tool, args, options) {
      const started = clock.now();
      let outcome = 'aborted';
      try {
        const result = await tools.call(directory, tool, args, options);
        outcome = result.isError ? 'error' : 'ok';
        return result;
      } finally {
        logger.debug('tool call', {
          server: tool.server,
          tool: tool.serverToolName,
          duration_ms: clock.now() - started,
          outcome,
        });
      }
    },
  };
}

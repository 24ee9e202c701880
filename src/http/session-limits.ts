import type { AppConfig } from '../app-config.js';
import { AppError } from '../errors.js';
import type { SessionSettings } from '../sessions/session-settings.js';

/**
 * Refuses settings a client may not choose for a session: a model outside `--allowed-models` (the
 * default model is always allowed; none listed: any), or a context window above
 * `--max-context-window-size`.
 */
export function checkSessionLimits(settings: SessionSettings, config: AppConfig): void {
  const { model, context_window_size: contextWindowSize } = settings;
  const allowed = [config.model, ...config.allowedModels.filter((name) => name !== config.model)];
  if (model !== undefined && config.allowedModels.length > 0 && !allowed.includes(model)) {
    throw new AppError(
      'model_not_allowed',
      `model "${model}" is not allowed; this server allows ${allowed.join(', ')}.`,
      {
        allowed_models: allowed,
      },
    );
  }
  const max = config.maxContextWindowSize;
  if (contextWindowSize !== undefined && max !== undefined && contextWindowSize > max) {
    throw new AppError(
      'invalid_request',
      `context_window_size ${contextWindowSize} is above this server's limit of ${max}.`,
      { max_context_window_size: max },
    );
  }
}

/** Which provider and model answer a request: the configured default, or a pair LLM_ALLOWED_MODELS lists. */

import type { LlmConfig, LlmProviderName } from '../config.js';
import { AppError, errors } from '../http/errors.js';
import type { ChatProviderLookup } from './providers/index.js';
import type { ChatProvider } from './providers/provider.js';

/** Where the model runs and what it may be asked, resolved from a request and the config. */
export interface ModelChoice {
  provider: ChatProvider;
  providerName: LlmProviderName;
  model: string;
}

const VARIABLES = 'set OPENAI_API_KEY (or OPENAI_BASE_URL for Ollama, vLLM, LM Studio) or ANTHROPIC_API_KEY, and optionally LLM_PROVIDER / LLM_MODEL';

/** The provider and model for a request: the default, or an allow-listed provider:model pair. */
export function chooseModel(llm: LlmConfig, providers: ChatProviderLookup, provider?: LlmProviderName, model?: string): ModelChoice {
  const providerName = provider ?? llm.provider;
  if (!providerName) {
    throw new AppError('llm_not_configured', `No LLM provider is configured: ${VARIABLES}`);
  }
  const chosenModel = model ?? (providerName === llm.provider ? llm.model : undefined);
  if (!chosenModel) {
    throw errors.validation(`Name the model to use with provider ${providerName}`, [{ field: 'model', message: 'is required with this provider' }]);
  }
  const isDefault = providerName === llm.provider && chosenModel === llm.model;
  if (!isDefault && !llm.allowedModels.includes(`${providerName}:${chosenModel}`)) {
    throw new AppError(
      'model_not_allowed',
      `${providerName}:${chosenModel} is not enabled here; allowed: ${[`${llm.provider}:${llm.model}`, ...llm.allowedModels].join(', ')} (LLM_ALLOWED_MODELS)`,
    );
  }
  const instance = providers(providerName);
  if (!instance) {
    throw new AppError('llm_not_configured', `The ${providerName} provider has no API key or base URL: ${VARIABLES}`);
  }
  return { provider: instance, providerName, model: chosenModel };
}

/** Personal data kept from LLM providers: detection, consistent pseudonyms, and when to apply them. */
export { PII_KINDS, type PiiKind, type PiiMatch } from './kinds.js';
export { detectPii, type DetectOptions } from './detect.js';
export {
  createRedactor,
  redactText,
  type RedactionCounts,
  type Redactor,
  type RedactorOptions,
  type StreamRestorer,
} from './redactor.js';
export { isLocalProvider, REDACT_PII_MODES, shouldRedact, type RedactPiiMode } from './policy.js';

import { pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { users } from './accounts.js';
import { createdAt } from './columns.js';

/** A user's sensitive terms, redacted before any provider LLM_REDACT_PII covers (src/privacy). */
export const privacyTerms = pgTable('privacy_terms', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  term: text('term').notNull(),
  createdAt: createdAt(),
});

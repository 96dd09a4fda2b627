import { v7 } from 'uuid';

/** Time-ordered UUIDv7: ordering by id is ordering by creation, which cursor pagination relies on. */
export function newId(): string {
  return v7();
}

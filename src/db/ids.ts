import { v7 } from 'uuid';

/** Time-ordered UUIDv7: ordering by id is ordering by creation, which cursor pagination relies on. */
export function newId(): string {
  return v7();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for the canonical text form of a UUID, which every id column holds. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

import { JOB_TYPES, type JobHandler, type JobType } from './types.js';

/** The handler for every job type; built once at start-up and refusing to be incomplete. */
export class JobRegistry {
  private readonly handlers = new Map<string, JobHandler>();

  constructor(handlers: JobHandler[], required: readonly JobType[] = JOB_TYPES) {
    const problems: string[] = [];
    for (const handler of handlers) {
      if (this.handlers.has(handler.type)) problems.push(`job type "${handler.type}" has two handlers`);
      this.handlers.set(handler.type, handler);
    }
    for (const type of required) {
      if (!this.handlers.has(type)) problems.push(`job type "${type}" has no handler`);
    }
    if (problems.length > 0) throw new Error(`Job registry is incomplete: ${problems.join('; ')}`);
  }

  get(type: string): JobHandler | undefined {
    return this.handlers.get(type);
  }

  types(): string[] {
    return [...this.handlers.keys()];
  }
}

/**
 * Accessibility checks with axe-core (kept in devDependencies) on a playwright page of the console:
 * WCAG 2.x A and AA rules; serious and critical violations fail a test, the rest are only listed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT } from './server-process.js';

const AXE_SOURCE = readFileSync(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** The rule sets we hold the console to: every WCAG 2.0, 2.1 and 2.2 rule at levels A and AA. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

export interface AxeNode {
  target: string[];
  html: string;
  failureSummary?: string;
}

export interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  helpUrl: string;
  nodes: AxeNode[];
}

export interface AxeReport {
  /** Serious and critical: these fail. */
  serious: AxeViolation[];
  /** Minor and moderate: reported, not failed. */
  other: AxeViolation[];
}

/** What the evaluated functions see of the page (tests compile for Node, without the DOM library). */
interface AxeGlobals {
  axe?: {
    run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }>;
  };
  document: unknown;
}

/**
 * Runs axe on the page as it is now (scripts are injected once per document). The source goes in
 * through the DevTools protocol (page.evaluate), not a <script> tag: the console's CSP
 * (`script-src 'self'`) rightly refuses inline scripts, and the check must not need it loosened.
 */
export async function axeCheck(page: Page): Promise<AxeReport> {
  const present = await page.evaluate(() => (globalThis as unknown as AxeGlobals).axe !== undefined);
  if (!present) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (tags) => {
    const globals = globalThis as unknown as AxeGlobals;
    if (!globals.axe) throw new Error('axe-core did not load into the page');
    const result = await globals.axe.run(globals.document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    // Only what the report needs: axe's full result holds DOM references that do not serialise.
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String), html: n.html, failureSummary: n.failureSummary })),
    }));
  }, WCAG_TAGS);
  const fails = (v: AxeViolation) => v.impact === 'serious' || v.impact === 'critical';
  return { serious: violations.filter(fails), other: violations.filter((v) => !fails(v)) };
}

/** One line per violation and offending element, for an assertion message or a log. */
export function describeViolations(violations: AxeViolation[]): string {
  return violations
    .flatMap((v) => v.nodes.map((n) => `${v.impact ?? 'unknown'} ${v.id} (${v.help}) at ${n.target.join(' ')}: ${n.html}${n.failureSummary ? `\n    ${n.failureSummary.replace(/\n/g, '\n    ')}` : ''}`))
    .join('\n');
}

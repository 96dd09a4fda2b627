/**
 * Time to first token: a streamed answer through our API (auth, session and message writes,
 * prompt building, SSE) against the same fake provider called directly with the OpenAI SDK.
 * The fake answers after a fixed delay. Goal: ≤ 5 ms median overhead.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { median, register, startBuiltServer, writeResult } from './lib.js';

const PROVIDER_DELAY_MS = 50;
const RUNS = 30;

const fake = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    void (async () => {
      await sleep(PROVIDER_DELAY_MS);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: object) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
      res.write(chunk({ role: 'assistant', content: 'Hello' }));
      for (const word of [' there', ',', ' friend', '.']) res.write(chunk({ content: word }));
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`);
      res.end('data: [DONE]\n\n');
    })();
  });
});
await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
const baseURL = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v1`;

async function direct(): Promise<number> {
  const client = new OpenAI({ apiKey: 'sk-bench', baseURL, maxRetries: 0 });
  const started = performance.now();
  const stream = await client.chat.completions.create({ model: 'fake', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  let first = 0;
  for await (const part of stream) {
    if (!first && part.choices[0]?.delta?.content) first = performance.now() - started;
  }
  return first;
}

const server = await startBuiltServer({ OPENAI_BASE_URL: baseURL, OPENAI_API_KEY: 'sk-bench', LLM_MODEL: 'fake' });
try {
  const token = await register(server.base);
  async function throughApi(): Promise<number> {
    const started = performance.now();
    const res = await fetch(`${server.base}/api/v1/chat/completion`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ message: 'Hi' }),
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let first = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!first && text.includes('event: delta')) first = performance.now() - started;
    }
    if (!text.includes('event: done')) throw new Error(`no done event: ${text}`);
    return first;
  }
  // Warm both paths (JIT, connection pools, PGlite caches) before measuring.
  for (let i = 0; i < 5; i++) {
    await direct();
    await throughApi();
  }
  const directMs: number[] = [];
  const apiMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    directMs.push(await direct());
    apiMs.push(await throughApi());
  }
  writeResult('ttft', {
    provider_delay_ms: PROVIDER_DELAY_MS,
    runs: RUNS,
    direct_median_ms: Number(median(directMs).toFixed(2)),
    api_median_ms: Number(median(apiMs).toFixed(2)),
    overhead_median_ms: Number((median(apiMs) - median(directMs)).toFixed(2)),
    goal_overhead_ms: 5,
  });
} finally {
  await server.stop();
  fake.close();
}

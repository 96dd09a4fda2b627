/**
 * A private clamd for the malware-scanning tests: its own config, socket, TCP port and a signature
 * database of two local EICAR signatures (no freshclam: it cannot reach its server here).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { ClamdClient } from '../../src/scanning/clamd.js';
import { freePort, tempDir, waitUntil } from '../helpers/server-process.js';

/** The EICAR test file: every scanner reports it, and it is harmless. */
export const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');

const SIGNATURES = {
  // The whole EICAR file by MD5, and its text anywhere in a stream (inside a WAV, say).
  'custom.hdb': '44d88612fea8a8f36de82e1278abb02f:68:Custom.Test.EICAR-HDB\n',
  'custom.ndb': `Custom.Test.EICAR-NDB:0:*:${Buffer.from('EICAR-STANDARD-ANTIVIRUS-TEST-FILE').toString('hex')}\n`,
};

export function clamdBinary(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v clamd || ls /usr/sbin/clamd'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const running = new Set<ChildProcess>();
after(() => {
  for (const proc of running) proc.kill('SIGKILL');
});

export interface PrivateClamd {
  tcpUrl: string;
  socketPath: string;
  start(): Promise<void>;
  /** Stops clamd and waits for it to exit: its port and socket then refuse connections. */
  stop(): Promise<void>;
}

export async function startPrivateClamd(options: { streamMaxLength: string }): Promise<PrivateClamd> {
  const binary = clamdBinary();
  assert.ok(binary, 'clamd is not installed (apt-get install clamav-daemon)');
  const dir = tempDir('clamd');
  const port = await freePort();
  const socketPath = path.join(dir, 'clamd.sock');
  mkdirSync(path.join(dir, 'db'));
  mkdirSync(path.join(dir, 'tmp'));
  for (const [name, text] of Object.entries(SIGNATURES)) writeFileSync(path.join(dir, 'db', name), text);
  const config = path.join(dir, 'clamd.conf');
  writeFileSync(
    config,
    [
      'Foreground yes',
      `DatabaseDirectory ${dir}/db`,
      'OfficialDatabaseOnly no',
      `LocalSocket ${socketPath}`,
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      `PidFile ${dir}/clamd.pid`,
      `TemporaryDirectory ${dir}/tmp`,
      `StreamMaxLength ${options.streamMaxLength}`,
      'MaxThreads 4',
      'SelfCheck 0',
      '',
    ].join('\n'),
  );
  const client = new ClamdClient({ address: { host: '127.0.0.1', port }, timeoutMs: 2_000 });
  let proc: ChildProcess | null = null;
  let output = '';

  const start = async () => {
    const started = spawn(binary, [`--config-file=${config}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    output = '';
    started.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    running.add(started);
    started.once('exit', () => running.delete(started));
    proc = started;
    await waitUntil(
      'clamd to answer PING',
      async () => {
        if (started.exitCode !== null) assert.fail(`clamd exited with ${started.exitCode}:\n${output}`);
        return client.ping().then(
          () => true,
          () => false,
        );
      },
      30_000,
    );
  };

  await start();
  return {
    tcpUrl: `tcp://127.0.0.1:${port}`,
    socketPath,
    start,
    stop: async () => {
      const current = proc;
      proc = null;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.kill('SIGTERM');
      await exited;
    },
  };
}

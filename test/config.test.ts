import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig, readEnvironment, type Env } from '../src/config.js';

const GOOD_SECRET = 'k'.repeat(40);

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-config-'));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs loadConfig and returns the ConfigError it must throw. */
function configError(env: Env): ConfigError {
  try {
    loadConfig(env, { persistSecret: false });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  test('defaults', () => {
    // A SECRET_KEY is given so nothing is generated or written under ./data.
    const config = loadConfig({ SECRET_KEY: GOOD_SECRET });
    assert.equal(config.port, 8000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.algorithm, 'HS256');
    assert.equal(config.accessTokenExpireMinutes, 30);
    assert.equal(config.maxFileSize, 10_485_760);
    assert.equal(config.dataDir, path.resolve('./data'));
    assert.ok(path.isAbsolute(config.dataDir));
    assert.equal(config.environment, 'development');
    assert.equal(config.debug, false);
    assert.equal(config.databaseUrl, null);
    assert.equal(config.secretKey, GOOD_SECRET);
    assert.equal(config.secretKeySource, 'env');
  });

  test('values are read, trimmed and converted', () => {
    const dataDir = tempDir();
    const config = loadConfig({
      SECRET_KEY: GOOD_SECRET,
      PORT: ' 9001 ',
      HOST: '127.0.0.1',
      ALGORITHM: 'hs512',
      ACCESS_TOKEN_EXPIRE_MINUTES: '15',
      MAX_FILE_SIZE: '2_000_000',
      DEBUG: 'yes',
      DATA_DIR: dataDir,
      DATABASE_URL: 'postgresql://u:p@db:5432/app',
      CORS_ORIGINS: 'https://a.example, https://b.example,',
    });
    assert.equal(config.port, 9001);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.algorithm, 'HS512');
    assert.equal(config.accessTokenExpireMinutes, 15);
    assert.equal(config.maxFileSize, 2_000_000);
    assert.equal(config.debug, true);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.dataDir, dataDir);
    assert.equal(config.databaseUrl, 'postgresql://u:p@db:5432/app');
    assert.deepEqual(config.corsOrigins, ['https://a.example', 'https://b.example']);
  });

  test('empty values count as unset', () => {
    const config = loadConfig({ SECRET_KEY: GOOD_SECRET, PORT: '', HOST: '   ', DATABASE_URL: '' });
    assert.equal(config.port, 8000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.databaseUrl, null);
  });

  const badValues: [string, string][] = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['ALGORITHM', 'RS256'],
    ['DEBUG', 'maybe'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['MAX_FILE_SIZE', '-1'],
    ['ACCESS_TOKEN_EXPIRE_MINUTES', '0'],
    ['LOG_LEVEL', 'loud'],
  ];
  for (const [name, value] of badValues) {
    test(`${name}=${value} is a ConfigError naming ${name}`, () => {
      const error = configError({ SECRET_KEY: GOOD_SECRET, [name]: value });
      assert.equal(error.problems.length, 1, error.message);
      assert.match(error.problems[0]!, new RegExp(`^${name}\\b`));
      assert.ok(error.message.includes(name), error.message);
      // URLs are reported by their scheme only, so credentials never reach the logs.
      const shown = value.includes('://') ? value.slice(0, value.indexOf('//')) : value;
      assert.ok(error.message.includes(shown), `the bad value is quoted: ${error.message}`);
    });
  }

  test('several bad values are all reported at once', () => {
    const error = configError({
      SECRET_KEY: GOOD_SECRET,
      PORT: 'abc',
      ALGORITHM: 'RS256',
      DEBUG: 'maybe',
      DATABASE_URL: 'mysql://x',
      MAX_FILE_SIZE: '-1',
    });
    assert.equal(error.problems.length, 5, error.message);
    for (const name of ['PORT', 'ALGORITHM', 'DEBUG', 'DATABASE_URL', 'MAX_FILE_SIZE']) {
      assert.ok(error.message.includes(name), `${name} missing from: ${error.message}`);
    }
  });

  test('RUN_WORKERS=false is accepted on the embedded database too: workers join it through DATA_DIR', () => {
    assert.equal(loadConfig({ SECRET_KEY: GOOD_SECRET, RUN_WORKERS: 'false' }, { persistSecret: false }).runWorkers, false);
    const config = loadConfig({ SECRET_KEY: GOOD_SECRET, RUN_WORKERS: 'false', DATABASE_URL: 'postgres://db/transcribo' }, { persistSecret: false });
    assert.equal(config.runWorkers, false);
  });

  describe('production', () => {
    const production = (extra: Env): Env => ({ ENVIRONMENT: 'production', DATA_DIR: tempDir(), ...extra });

    const badSecrets: [string, Env][] = [
      ['missing', {}],
      ['blank', { SECRET_KEY: '   ' }],
      ['the example value', { SECRET_KEY: 'your-secret-key-here' }],
      ['the example value in capitals', { SECRET_KEY: 'YOUR-SECRET-KEY-HERE' }],
      ['too short', { SECRET_KEY: 'x'.repeat(31) }],
    ];
    for (const [label, extra] of badSecrets) {
      test(`SECRET_KEY ${label} is a ConfigError naming SECRET_KEY`, () => {
        const env = production(extra);
        const error = configError(env);
        assert.ok(error.problems.some((p) => p.includes('SECRET_KEY')), error.message);
        // Nothing is generated in production: a restart must not silently change the key.
        assert.throws(() => readFileSync(path.join(env.DATA_DIR!, 'secret_key')), { code: 'ENOENT' });
      });
    }

    test('ENVIRONMENT is case-insensitive', () => {
      const error = configError({ ENVIRONMENT: 'Production', DATA_DIR: tempDir() });
      assert.match(error.message, /SECRET_KEY/);
    });

    test('a secret problem is reported together with other problems', () => {
      const error = configError(production({ PORT: 'abc' }));
      assert.equal(error.problems.length, 2, error.message);
      assert.match(error.message, /SECRET_KEY/);
      assert.match(error.message, /PORT/);
    });

    test('a good 40-character key is accepted', () => {
      const config = loadConfig(production({ SECRET_KEY: GOOD_SECRET }));
      assert.equal(config.environment, 'production');
      assert.equal(config.secretKey, GOOD_SECRET);
      assert.equal(config.secretKeySource, 'env');
      assert.deepEqual(config.corsOrigins, [], 'no CORS origins unless configured');
    });
  });

  describe('generated secret outside production', () => {
    test('is written to DATA_DIR/secret_key and reused by the next start', () => {
      const dataDir = path.join(tempDir(), 'nested', 'data');
      const first = loadConfig({ DATA_DIR: dataDir });
      assert.equal(first.secretKeySource, 'generated');
      assert.ok(first.secretKey.length >= 32, first.secretKey);

      const file = path.join(dataDir, 'secret_key');
      assert.equal(readFileSync(file, 'utf8').trim(), first.secretKey);
      if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);

      const second = loadConfig({ DATA_DIR: dataDir });
      assert.equal(second.secretKey, first.secretKey);
      assert.equal(second.secretKeySource, 'generated');
    });

    test('different DATA_DIRs get different secrets', () => {
      const a = loadConfig({ DATA_DIR: tempDir() });
      const b = loadConfig({ DATA_DIR: tempDir() });
      assert.notEqual(a.secretKey, b.secretKey);
    });

    test('a stored secret that is too short is replaced', () => {
      const dataDir = tempDir();
      writeFileSync(path.join(dataDir, 'secret_key'), 'short\n');
      const config = loadConfig({ DATA_DIR: dataDir });
      assert.ok(config.secretKey.length >= 32);
      assert.equal(readFileSync(path.join(dataDir, 'secret_key'), 'utf8').trim(), config.secretKey);
    });

    test('persistSecret: false generates a key without touching DATA_DIR', () => {
      const dataDir = path.join(tempDir(), 'untouched');
      const config = loadConfig({ DATA_DIR: dataDir }, { persistSecret: false });
      assert.equal(config.secretKeySource, 'generated');
      assert.ok(config.secretKey.length >= 32);
      assert.throws(() => statSync(dataDir), { code: 'ENOENT' });
    });

    test('a SECRET_KEY from the environment wins over a stored one', () => {
      const dataDir = tempDir();
      loadConfig({ DATA_DIR: dataDir });
      const config = loadConfig({ DATA_DIR: dataDir, SECRET_KEY: GOOD_SECRET });
      assert.equal(config.secretKey, GOOD_SECRET);
      assert.equal(config.secretKeySource, 'env');
    });
  });
});

describe('readEnvironment', () => {
  test('reads .env in cwd; real variables win over it', () => {
    const cwd = tempDir();
    writeFileSync(
      path.join(cwd, '.env'),
      ['# a comment', 'PORT=9100', 'HOST=10.0.0.1', 'SECRET_KEY="from-the-file-and-long-enough-to-use-here"', ''].join(
        '\n',
      ),
    );
    const env = readEnvironment(cwd, { PORT: '9200', ONLY_REAL: 'yes' });
    assert.equal(env.PORT, '9200');
    assert.equal(env.HOST, '10.0.0.1');
    assert.equal(env.SECRET_KEY, 'from-the-file-and-long-enough-to-use-here');
    assert.equal(env.ONLY_REAL, 'yes');

    const config = loadConfig(env, { persistSecret: false });
    assert.equal(config.port, 9200);
    assert.equal(config.host, '10.0.0.1');
    assert.equal(config.secretKey, 'from-the-file-and-long-enough-to-use-here');
  });

  test('without a .env file it is the given environment', () => {
    const cwd = tempDir();
    assert.deepEqual(readEnvironment(cwd, { A: '1' }), { A: '1' });
  });

  test('does not mutate the environment it is given', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, '.env'), 'FROM_FILE=1\n');
    const real: Env = { A: '1' };
    readEnvironment(cwd, real);
    assert.deepEqual(real, { A: '1' });
  });
});

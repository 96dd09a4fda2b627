/**
 * The whisper.cpp ggml models that can be named in WHISPER_MODEL and downloaded from
 * `${WHISPER_MODEL_BASE_URL}/ggml-<name>.bin` (by default huggingface.co/ggerganov/whisper.cpp).
 *
 * SHA-1 checksums: the full-precision models and large-v2-q5_0, large-v3-q5_0 and
 * large-v3-turbo-q5_0 are from whisper.cpp's models/README.md; the other quantised variants (the
 * names in models/download-ggml-model.sh) are not listed there, and their checksums were taken from
 * several independent projects that verify these same files and agree with one another.
 */
import path from 'node:path';

export interface NamedModel {
  name: string;
  /** File name on the download server and in MODELS_DIR. */
  file: string;
  /** Lower-case hex SHA-1 of the whole file. */
  sha1: string;
  /** Approximate size, for messages; the download checks the server's Content-Length instead. */
  approxMiB: number;
  englishOnly: boolean;
}

export type ResolvedModel =
  | ({ kind: 'named' } & NamedModel)
  | {
      kind: 'path';
      /** Absolute path of a user-supplied ggml file; it is used as is, without a checksum. */
      path: string;
      name: string;
    };

export class UnknownModelError extends Error {
  constructor(readonly spec: string) {
    super(
      `Unknown whisper model "${spec}". Use one of ${MODEL_NAMES.join(', ')}, ` +
        'or the path to a whisper.cpp ggml .bin file (a value containing "/" or ending in .bin).',
    );
    this.name = 'UnknownModelError';
  }
}

function model(name: string, sha1: string, approxMiB: number): NamedModel {
  return { name, file: `ggml-${name}.bin`, sha1, approxMiB, englishOnly: /\.en(-|$)/.test(name) };
}

export const MODELS: readonly NamedModel[] = [
  model('tiny', 'bd577a113a864445d4c299885e0cb97d4ba92b5f', 75),
  model('tiny-q5_1', '2827a03e495b1ed3048ef28a6a4620537db4ee51', 31),
  model('tiny-q8_0', '19e8118f6652a650569f5a949d962154e01571d9', 42),
  model('tiny.en', 'c78c86eb1a8faa21b369bcd33207cc90d64ae9df', 75),
  model('tiny.en-q5_1', '3fb92ec865cbbc769f08137f22470d6b66e071b6', 31),
  model('tiny.en-q8_0', '802d6668e7d411123e672abe4cb6c18f12306abb', 42),
  model('base', '465707469ff3a37a2b9b8d8f89f2f99de7299dac', 142),
  model('base-q5_1', 'a3733eda680ef76256db5fc5dd9de8629e62c5e7', 57),
  model('base-q8_0', '7bb89bb49ed6955013b166f1b6a6c04584a20fbe', 78),
  model('base.en', '137c40403d78fd54d454da0f9bd998f78703390c', 142),
  model('base.en-q5_1', 'd26d7ce5a1b6e57bea5d0431b9c20ae49423c94a', 57),
  model('base.en-q8_0', 'bb1574182e9b924452bf0cd1510ac034d323e948', 78),
  model('small', '55356645c2b361a969dfd0ef2c5a50d530afd8d5', 466),
  model('small-q5_1', '6fe57ddcfdd1c6b07cdcc73aaf620810ce5fc771', 181),
  model('small-q8_0', 'bcad8a2083f4e53d648d586b7dbc0cd673d8afad', 252),
  model('small.en', 'db8a495a91d927739e50b3fc1cc4c6b8f6c2d022', 466),
  model('small.en-q5_1', '20f54878d608f94e4a8ee3ae56016571d47cba34', 181),
  model('small.en-q8_0', '9d75ff4ccfa0a8217870d7405cf8cef0a5579852', 252),
  model('medium', 'fd9727b6e1217c2f614f9b698455c4ffd82463b4', 1463),
  model('medium-q5_0', '7718d4c1ec62ca96998f058114db98236937490e', 514),
  model('medium-q8_0', 'e66645948aff4bebbec71b3485c576f3d63af5d6', 785),
  model('medium.en', '8c30f0e44ce9560643ebd10bbe50cd20eafd3723', 1463),
  model('medium.en-q5_0', 'bb3b5281bddd61605d6fc76bc5b92d8f20284c3b', 514),
  model('medium.en-q8_0', 'b1cf48c12c807e14881f634fb7b6c6ca867f6b38', 785),
  model('large-v1', 'b1caaf735c4cc1429223d5a74f0f4d0b9b59a299', 2951),
  model('large-v2', '0f4c8e34f21cf1a914c59d8b3ce882345ad349d6', 2951),
  model('large-v2-q5_0', '00e39f2196344e901b3a2bd5814807a769bd1630', 1031),
  model('large-v2-q8_0', 'da97d6ca8f8ffbeeb5fd147f79010eeea194ba38', 1579),
  model('large-v3', 'ad82bf6a9043ceed055076d0fd39f5f186ff8062', 2952),
  model('large-v3-q5_0', 'e6e2ed78495d403bef4b7cff42ef4aaadcfea8de', 1031),
  model('large-v3-turbo', '4af2b29d7ec73d781377bfd1758ca957a807e941', 1549),
  model('large-v3-turbo-q5_0', 'e050f7970618a659205450ad97eb95a18d69c9ee', 547),
  model('large-v3-turbo-q8_0', '01bf15bedffe9f39d65c1b6ff9b687ea91f59e0e', 834),
];

export const MODEL_NAMES: readonly string[] = MODELS.map((m) => m.name);

const BY_NAME = new Map(MODELS.map((m) => [m.name, m]));

export function findModel(name: string): NamedModel | undefined {
  return BY_NAME.get(name) ?? BY_NAME.get(name.toLowerCase());
}

/** Whether a WHISPER_MODEL value names a file rather than a registered model. */
export function isModelPath(spec: string): boolean {
  return spec.includes('/') || spec.includes(path.sep) || spec.toLowerCase().endsWith('.bin');
}

/**
 * A registered name → its file and checksum; a path (contains "/" or ends in .bin, resolved against
 * the current directory) → that file, unverified; anything else → UnknownModelError naming the
 * valid choices.
 */
export function resolveModel(spec: string): ResolvedModel {
  const trimmed = spec.trim();
  const named = findModel(trimmed);
  if (named) return { kind: 'named', ...named };
  if (trimmed !== '' && isModelPath(trimmed)) {
    const absolute = path.resolve(trimmed);
    return { kind: 'path', path: absolute, name: path.basename(absolute) };
  }
  throw new UnknownModelError(spec);
}

/**
 * The Kubernetes manifests as kustomize would assemble them, without kustomize: a
 * kustomization's resources (files and folders, recursively), its JSON-patch `patches` and its
 * `images`, and a check of every object against the Kubernetes and KEDA schemas.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface Manifest {
  file: string;
  object: KubeObject;
}

export interface Assembly {
  manifests: Manifest[];
  /** Every file read: kustomizations and the resources they list. */
  files: string[];
}

function validator<T>(Model: new (data: T) => { validate(): void }): (object: unknown) => void {
  return (object) => new Model(object as T).validate();
}

/** The kinds the manifests may use; anything else is a mistake until added here. */
const SCHEMAS: Record<string, (object: unknown) => void> = {
  'v1/ConfigMap': validator(ConfigMap),
  'v1/Secret': validator(Secret),
  'v1/Service': validator(Service),
  'apps/v1/Deployment': validator(Deployment),
  'policy/v1/PodDisruptionBudget': validator(PodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': validator(HorizontalPodAutoscaler),
  'keda.sh/v1alpha1/ScaledObject': validator(ScaledObject),
  'keda.sh/v1alpha1/TriggerAuthentication': validator(TriggerAuthentication),
};

/** Throws naming the file and the field when the object does not match its kind's schema. */
export function validateObject({ file, object }: Manifest): void {
  const validate = SCHEMAS[`${object.apiVersion}/${object.kind}`];
  assert.ok(validate, `${file}: no schema known for ${object.apiVersion} ${object.kind}`);
  try {
    validate(object);
  } catch (error) {
    assert.fail(`${file} (${object.kind} ${object.metadata?.name}): ${error instanceof Error ? error.message : String(error)}`);
  }
  assert.match(object.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${file}: metadata.name`);
}

/** Every YAML document of a file, each a mapping (an empty document is a stray `---`). */
export function readYaml(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc, i) => {
    assert.equal(doc.errors.length, 0, `${file} document ${i + 1}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    assert.ok(value && typeof value === 'object' && !Array.isArray(value), `${file} document ${i + 1} is not a mapping`);
    return value;
  });
}

interface Kustomization {
  resources?: string[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

// What these kustomizations use; kustomize ignores nothing, so a misspelt field must fail here too.
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'patches', 'images']);

type PatchOp = { op: 'remove' } | { op: 'add' | 'replace'; value: unknown };

/** Applies one JSON-patch operation; the path must exist (for add, its parent). */
function applyOp(object: KubeObject, op: PatchOp & { path: string }, where: string): void {
  const keys = op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop();
  assert.ok(last !== undefined, `${where}: empty patch path`);
  let parent: Record<string, unknown> = object;
  for (const key of keys) {
    const next = parent[key];
    assert.ok(next && typeof next === 'object', `${where}: ${op.path} does not exist`);
    parent = next as Record<string, unknown>;
  }
  if (op.op !== 'add') assert.ok(last in parent, `${where}: ${op.path} does not exist`);
  if (op.op === 'remove') delete parent[last];
  else parent[last] = op.value;
}

/** What `kustomize build dir` would give, for the features these kustomizations use. */
export function assemble(dir: string): Assembly {
  const file = path.join(dir, 'kustomization.yaml');
  const [doc] = readYaml(file) as [Kustomization & Record<string, unknown>];
  for (const field of Object.keys(doc)) assert.ok(KUSTOMIZATION_FIELDS.has(field), `${file}: unknown field ${field}`);
  const manifests: Manifest[] = [];
  const files = [file];
  for (const resource of doc.resources ?? []) {
    const target = path.resolve(dir, resource);
    assert.ok(existsSync(target), `${file} lists ${resource}, which does not exist`);
    if (statSync(target).isDirectory()) {
      const inner = assemble(target);
      manifests.push(...inner.manifests);
      files.push(...inner.files);
    } else {
      files.push(target);
      manifests.push(...readYaml(target).map((object) => ({ file: target, object: object as KubeObject })));
    }
  }
  for (const { target, patch } of doc.patches ?? []) {
    const matches = manifests.filter((m) => m.object.kind === target.kind && m.object.metadata.name === target.name);
    assert.equal(matches.length, 1, `${file}: a patch targets ${target.kind} ${target.name}, found ${matches.length}`);
    const ops: unknown = parse(patch);
    assert.ok(Array.isArray(ops), `${file}: the patch of ${target.name} is not a list of JSON-patch operations`);
    for (const op of ops as (PatchOp & { path: string })[]) applyOp(matches[0]!.object, op, `${file} patch of ${target.name}`);
  }
  for (const image of doc.images ?? []) {
    for (const container of containersOf(manifests)) {
      if (container.image !== image.name) continue;
      container.image = `${image.newName ?? image.name}${image.newTag ? `:${image.newTag}` : ''}`;
    }
  }
  return { manifests, files };
}

interface Container {
  name: string;
  image: string;
}

function containersOf(manifests: Manifest[]): Container[] {
  return manifests.flatMap(({ object }) => {
    const spec = (object.spec as { template?: { spec?: { containers?: Container[] } } } | undefined)?.template?.spec;
    return spec?.containers ?? [];
  });
}

/**
 * deploy/kubernetes: every manifest against the Kubernetes and KEDA schemas, the references
 * between them, the variables they set against those src/config.ts reads, and the probes
 * against the app's routes.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { QueueKeys } from 'bullmq';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { ITriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IIoK8sApiCoreV1Container as Container } from 'kubernetes-models/v1/Container';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { QUEUE_NAME } from '../../src/jobs/bullmq-queue.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { ROOT } from '../helpers/server-process.js';
import { assemble, readYaml, validateObject, type KubeObject, type Manifest } from './manifests.js';

const DIR = path.join(ROOT, 'deploy', 'kubernetes');
const base = assemble(DIR);
const keda = assemble(path.join(DIR, 'keda'));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(entry.name) ? [full] : [];
  });
}
/** The Secret templates, applied by hand once filled in, never by kustomize. */
const templates: Manifest[] = yamlFiles(DIR)
  .filter((file) => file.endsWith('.example.yaml'))
  .flatMap((file) => readYaml(file).map((object) => ({ file, object: object as KubeObject })));

function find<T>(manifests: Manifest[], kind: string, name: string): T {
  const found = manifests.filter((m) => m.object.kind === kind && m.object.metadata.name === name);
  assert.equal(found.length, 1, `one ${kind} ${name} expected, found ${found.length}`);
  return found[0]!.object as unknown as T;
}

const api = find<IDeployment>(base.manifests, 'Deployment', 'transcribo-api');
const worker = find<IDeployment>(base.manifests, 'Deployment', 'transcribo-worker');
const config = find<IConfigMap>(base.manifests, 'ConfigMap', 'transcribo-config').data ?? {};
const deployments = [api, worker];
const podSpec = (d: IDeployment) => d.spec!.template.spec!;
const containersOf = (d: IDeployment): Container[] => podSpec(d).containers;
const podLabels = (d: IDeployment) => d.spec!.template.metadata?.labels ?? {};
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Names src/config.ts and src/config/ read: `read.int('PORT', …)`, `read.raw('METRICS_PORT')` and the like. */
function namesConfigReads(): Set<string> {
  const dir = path.join(ROOT, 'src', 'config');
  const files = [path.join(ROOT, 'src', 'config.ts'), ...readdirSync(dir).map((name) => path.join(dir, name))];
  const source = files.map((file) => readFileSync(file, 'utf8')).join('\n');
  const names = new Set([...source.matchAll(/\bread\.\w+\(\s*'([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!));
  // Guards the pattern itself: were config.ts to read differently, nothing would match.
  for (const known of ['DATABASE_URL', 'REDIS_URL', 'SECRET_KEY', 'PORT']) assert.ok(names.has(known), `config.ts reads ${known}`);
  return names;
}

describe('deploy/kubernetes', () => {
  test('every YAML file parses and is listed by a kustomization, or is a *.example.yaml template', () => {
    const listed = new Set([...base.files, ...keda.files]);
    for (const file of yamlFiles(DIR)) {
      readYaml(file);
      assert.ok(listed.has(file) || file.endsWith('.example.yaml'), `${path.relative(DIR, file)} is in no kustomization`);
    }
  });

  test('every object matches its Kubernetes or KEDA schema', () => {
    const all = [...keda.manifests, ...templates];
    assert.ok(all.length >= 10, `expected the whole set, got ${all.length}`);
    for (const manifest of all) validateObject(manifest);
  });

  test('secrets are templates only: kustomize applies none', () => {
    for (const { file, object } of keda.manifests) assert.notEqual(object.kind, 'Secret', `${file} is a Secret`);
    const secret = find<ISecret>(templates, 'Secret', 'transcribo-secrets');
    for (const [key, value] of Object.entries(secret.stringData ?? {})) {
      assert.ok(!/^[A-Za-z0-9+/=_-]{32,}$/.test(value), `${key} looks like a real secret`);
    }
  });

  test('every variable the manifests set is one src/config.ts reads', () => {
    const known = namesConfigReads();
    const set: [string, string][] = [];
    for (const d of deployments) {
      for (const c of containersOf(d)) {
        for (const e of c.env ?? []) set.push([`${d.metadata!.name} env`, e.name]);
        for (const from of c.envFrom ?? []) {
          assert.equal(from.prefix, undefined, 'no envFrom prefix: the keys are the variable names');
          const ref = from.configMapRef?.name ?? from.secretRef?.name;
          const source = from.configMapRef
            ? find<IConfigMap>(base.manifests, 'ConfigMap', ref!).data
            : find<ISecret>(templates, 'Secret', ref!).stringData;
          for (const key of Object.keys(source ?? {})) set.push([`${ref}`, key]);
        }
      }
    }
    assert.ok(set.length > 10);
    for (const [where, name] of set) assert.ok(known.has(name), `${where} sets ${name}, which src/config.ts never reads`);
  });

  test('selectors, targets and mounts resolve', () => {
    for (const d of deployments) {
      assert.ok(selects(d.spec!.selector.matchLabels ?? {}, podLabels(d)), `${d.metadata!.name} selects its own pods`);
      const volumes = new Set((podSpec(d).volumes ?? []).map((v) => v.name));
      for (const c of containersOf(d)) {
        for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${c.name} mounts ${m.name}, not a volume`);
      }
    }
    const service = find<IService>(base.manifests, 'Service', 'transcribo-api');
    assert.ok(selects(service.spec!.selector ?? {}, podLabels(api)), 'the Service selects the API pods');
    assert.ok(!selects(service.spec!.selector ?? {}, podLabels(worker)), 'the Service does not select workers');
    const apiPorts = containersOf(api).flatMap((c) => c.ports ?? []);
    for (const port of service.spec!.ports ?? []) {
      assert.ok(apiPorts.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort), `targetPort ${port.targetPort}`);
    }
    assert.ok(service.spec!.ports?.some((p) => p.port === 8000), 'the Service listens on 8000');

    const pdb = find<IPodDisruptionBudget>(base.manifests, 'PodDisruptionBudget', 'transcribo-api');
    assert.ok(selects(pdb.spec!.selector?.matchLabels ?? {}, podLabels(api)), 'the PDB covers the API pods');
    const hpa = find<IHorizontalPodAutoscaler>(base.manifests, 'HorizontalPodAutoscaler', 'transcribo-api');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'transcribo-api' });
    assert.equal(hpa.spec.metrics?.[0]?.resource?.name, 'cpu');
    assert.equal(api.spec!.replicas, undefined, 'the HPA owns the API replica count');
  });

  test('pods run as non-root, read-only, without capabilities, with an emptyDir /tmp and sized resources', () => {
    for (const d of deployments) {
      const pod = podSpec(d);
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${d.metadata!.name} runAsNonRoot`);
      for (const c of pod.containers) {
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name} readOnlyRootFilesystem`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name} allowPrivilegeEscalation`);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${c.name} drops every capability`);
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        assert.ok(tmp && pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir, `${c.name} has an emptyDir at /tmp`);
        for (const kind of ['requests', 'limits'] as const) {
          for (const resource of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[resource], `${c.name} ${kind}.${resource}`);
        }
      }
    }
  });

  test('the API runs no jobs, the worker starts with `worker`, both expose METRICS_PORT', () => {
    assert.deepEqual(containersOf(api)[0]!.env?.find((e) => e.name === 'RUN_WORKERS'), { name: 'RUN_WORKERS', value: 'false' });
    assert.deepEqual(containersOf(worker)[0]!.args, ['worker']);
    for (const d of deployments) {
      const metrics = containersOf(d)[0]!.ports?.find((p) => p.name === 'metrics');
      assert.equal(String(metrics?.containerPort), config.METRICS_PORT, `${d.metadata!.name} port "metrics" is METRICS_PORT`);
      const annotations = d.spec!.template.metadata?.annotations ?? {};
      assert.equal(annotations['prometheus.io/scrape'], 'true');
      assert.equal(annotations['prometheus.io/port'], config.METRICS_PORT);
    }
  });

  test("KEDA scales the workers on BullMQ's wait list, and the base applies without KEDA", () => {
    const scaled = find<IScaledObject>(keda.manifests, 'ScaledObject', 'transcribo-worker');
    assert.equal(scaled.spec.scaleTargetRef.name, worker.metadata!.name);
    const [trigger] = scaled.spec.triggers;
    assert.equal(trigger?.type, 'redis');
    const waitList = new QueueKeys(config.REDIS_PREFIX).toKey(QUEUE_NAME, 'wait');
    assert.equal(trigger.metadata.listName, waitList, 'the list BullMQ keeps waiting jobs in');
    // The same server and database as REDIS_URL's example.
    const redisUrl = new URL(find<ISecret>(templates, 'Secret', 'transcribo-secrets').stringData!.REDIS_URL!);
    assert.equal(trigger.metadata.address, `${redisUrl.hostname}:${redisUrl.port || 6379}`);
    assert.equal(trigger.metadata.databaseIndex, redisUrl.pathname.slice(1) || '0');
    const auth = find<ITriggerAuthentication>(keda.manifests, 'TriggerAuthentication', trigger.authenticationRef!.name);
    for (const ref of auth.spec?.secretTargetRef ?? []) {
      assert.ok(find<ISecret>(templates, 'Secret', ref.name).stringData?.[ref.key] !== undefined, `secret ${ref.name} has ${ref.key}`);
    }
    assert.equal(find<IDeployment>(keda.manifests, 'Deployment', 'transcribo-worker').spec!.replicas, undefined, 'KEDA owns the count');
    assert.ok(worker.spec!.replicas! >= 1, 'the base runs workers without KEDA');
    for (const { object } of base.manifests) assert.ok(!object.apiVersion.startsWith('keda.sh/'), 'the base needs no KEDA');
  });

  describe('probes', () => {
    let app: TestApp | undefined;
    before(async () => {
      app = await startTestApp('postgres');
    });
    after(async () => {
      await app?.close();
    });

    test('every HTTP probe names a container port and a route that answers 200', async () => {
      const probes = containersOf(api).flatMap((c) =>
        [c.startupProbe, c.livenessProbe, c.readinessProbe].map((probe) => ({ container: c, probe })),
      );
      assert.deepEqual(
        probes.map(({ probe }) => probe?.httpGet?.path),
        ['/api/v1/health/liveness', '/api/v1/health/liveness', '/api/v1/health/readiness'],
      );
      for (const { container, probe } of probes) {
        const { path: url, port } = probe!.httpGet!;
        assert.ok(container.ports?.some((p) => p.name === port || p.containerPort === port), `probe port ${port}`);
        const res = await app!.app.inject({ method: 'GET', url: url! });
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      }
    });
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { ROLES } from '../../../src/runtime/roles.js';
import { refuseWorkersOnSharedLog, requireSharedLog } from '../../../src/runtime/sharedLog.js';
import { loadManifests, schemaError, strictFieldErrors, type Manifest } from './kubernetesSchemas.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIR = join(ROOT, 'deploy', 'kubernetes');
const manifests = loadManifests(DIR);

// Just enough of the API types to read the fields these checks need.
interface Probe { httpGet?: { path?: string; port?: string | number } }
interface Container {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; configMap?: { name: string } }[];
}
interface Workload { metadata: { name: string }; spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } }

const workloads = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet');
const of = (kind: string) => manifests.filter((m) => m.kind === kind);
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('has a workload for every role but all, and a Service, PodDisruptionBudget and HorizontalPodAutoscaler for each', () => {
    const roles = workloads.map((w) => (w.body as unknown as Workload).spec.template.metadata.labels['app.kubernetes.io/component']).sort();
    assert.deepEqual(roles, ROLES.filter((r) => r !== 'all').sort());
    for (const w of workloads) {
      const { metadata, spec } = w.body as unknown as Workload;
      const labels = spec.template.metadata.labels;
      assert.ok(matches(spec.selector.matchLabels, labels), `${metadata.name}: its selector matches its pods`);
      const service = of('Service').find((s) => matches((s.body.spec as { selector: Record<string, string> }).selector, labels));
      assert.ok(service, `${metadata.name} has a Service`);
      const port = (service.body.spec as { ports: { targetPort: string | number }[] }).ports[0]!.targetPort;
      assert.ok(spec.template.spec.containers[0]!.ports?.some((p) => p.name === port || p.containerPort === port), `${metadata.name}: the Service's targetPort ${port} is a container port`);
      assert.ok(of('PodDisruptionBudget').some((p) => matches((p.body.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, labels)), `${metadata.name} has a PodDisruptionBudget`);
      const hpa = of('HorizontalPodAutoscaler').find((h) => (h.body.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === metadata.name);
      assert.ok(hpa, `${metadata.name} has a HorizontalPodAutoscaler`);
      assert.equal((hpa.body.spec as { scaleTargetRef: { kind: string } }).scaleTargetRef.kind, w.kind);
    }
  });

  for (const m of manifests) {
    it(`${m.file}: ${m.kind} ${(m.body.metadata as { name: string }).name} is valid against the Kubernetes OpenAPI schema`, () => {
      assert.equal(schemaError(m), undefined);
    });
  }

  it('uses no field the Kubernetes API does not know (a typo would pass the schema alone)', () => {
    assert.deepEqual(strictFieldErrors(manifests, ROOT), []);
  });

  it('would catch a misspelt field and a wrongly typed one (the checks can fail)', () => {
    const bad = structuredClone(workloads[0]!) as Manifest;
    const container = (bad.body as unknown as Workload).spec.template.spec.containers[0]! as unknown as Record<string, Record<string, unknown>>;
    container.livenessProbe!.periodSecond = 3;
    assert.match(strictFieldErrors([bad], ROOT).join('\n'), /periodSecond/);
    (container.ports as unknown as { containerPort: unknown }[])[0]!.containerPort = 'http';
    assert.match(schemaError(bad) ?? '', /containerPort must be integer/);
  });

  for (const w of workloads) {
    const { metadata, spec } = w.body as unknown as Workload;
    const pod = spec.template.spec;
    const container = pod.containers[0]!;
    const role = spec.template.metadata.labels['app.kubernetes.io/component'];

    it(`${metadata.name} runs \`beacon start --role ${role}\` with the ConfigMap's config`, () => {
      const args = container.args ?? [];
      assert.equal(args[0], 'start');
      assert.equal(args[args.indexOf('--role') + 1], role);
      const configPath = args[args.indexOf('--config') + 1]!;
      const mount = container.volumeMounts?.find((v) => configPath.startsWith(`${v.mountPath}/`));
      assert.ok(mount, `${configPath} is on a mounted volume`);
      const volume = pod.volumes?.find((v) => v.name === mount.name);
      assert.equal(volume?.configMap?.name, 'beacon-config');
      const key = configPath.slice(mount.mountPath.length + 1);
      assert.ok(key in (of('ConfigMap')[0]!.body.data as Record<string, string>), `the ConfigMap has ${key}`);
    });

    it(`${metadata.name} probes liveness on /healthz and readiness on /readyz`, () => {
      assert.equal(container.livenessProbe?.httpGet?.path, '/healthz');
      assert.equal(container.readinessProbe?.httpGet?.path, '/readyz');
      for (const probe of [container.livenessProbe, container.readinessProbe]) {
        const port = probe?.httpGet?.port;
        assert.ok(container.ports?.some((p) => p.name === port || p.containerPort === port), `probe port ${port} is a container port`);
      }
    });

    it(`${metadata.name} sets resource requests and limits`, () => {
      for (const k of ['cpu', 'memory']) {
        assert.ok(container.resources?.requests?.[k], `requests.${k}`);
        assert.ok(container.resources?.limits?.[k], `limits.${k}`);
      }
    });

    it(`${metadata.name} runs as the image's non-root user on a read-only root file system, with no capabilities`, () => {
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      const dockerUser = /^USER\s+(\d+)/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
      assert.equal(String(pod.securityContext?.runAsUser), dockerUser, "runAsUser is the Dockerfile's USER");
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
      assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
    });

    it(`${metadata.name} mounts a writable dataDir and /tmp, and waits longer than the drain before killing`, async () => {
      const { config } = await loadConfigMap();
      const mounts = (container.volumeMounts ?? []).map((v) => v.mountPath);
      assert.ok(mounts.includes(config.dataDir), `dataDir ${config.dataDir} is a volume (the root file system is read-only)`);
      assert.ok(mounts.includes('/tmp'));
      assert.ok((pod.terminationGracePeriodSeconds ?? 30) * 1000 > config.dispatch.shutdownTimeout + 5000);
    });
  }

  it("the ConfigMap's config is valid and fits every role: a shared log, one process per collector, a server store", async () => {
    const { config } = await loadConfigMap();
    assert.equal(config.log.type, 'jetstream');
    assert.doesNotThrow(() => requireSharedLog(config, 'collector'));
    assert.doesNotThrow(() => requireSharedLog(config, 'dispatcher'));
    assert.doesNotThrow(() => refuseWorkersOnSharedLog(config, 'collector'));
    assert.notEqual(config.store.type, 'embedded', 'dispatchers refuse the embedded store');
    assert.equal(config.server.trustProxy, true, 'behind the Ingress, the client address comes from X-Forwarded-For');
  });

  it('kustomization.yaml lists every manifest file, and only existing ones', () => {
    const k = parseYaml(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[]; images: { name: string }[] };
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...k.resources].sort(), files);
    for (const r of k.resources) assert.ok(existsSync(join(DIR, r)));
    const images = new Set(workloads.map((w) => (w.body as unknown as Workload).spec.template.spec.containers[0]! as unknown as { image: string }).map((c) => c.image.split(':')[0]));
    assert.deepEqual([...images], k.images.map((i) => i.name), 'the images entry renames the image every workload uses');
  });
});

async function loadConfigMap() {
  const data = of('ConfigMap')[0]!.body.data as Record<string, string>;
  const dir = await mkdtemp(join(tmpdir(), 'beacon-k8s-config-'));
  try {
    await writeFile(join(dir, 'beacon.yaml'), data['beacon.yaml']!);
    return await loadConfig({ source: join(dir, 'beacon.yaml'), env: {} });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

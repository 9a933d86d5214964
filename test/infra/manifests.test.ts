/**
 * Static validation of what cannot run here: the Kubernetes manifests parse and hang together, and every
 * setting they pass is one that src/config.ts reads.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const INFRA = join(import.meta.dirname, '../../infra');

async function manifests() {
  const dir = join(INFRA, 'k8s');
  const docs: { file: string; doc: Record<string, any> }[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      expect(d.errors, file).toEqual([]);
      docs.push({ file, doc: d.toJS() });
    }
  }
  return docs;
}

describe('Kubernetes manifests', () => {
  it('parse, and each object has apiVersion, kind and a name in the flatgate namespace', async () => {
    const docs = await manifests();
    expect(docs.length).toBeGreaterThanOrEqual(8);
    for (const { file, doc } of docs) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
      expect(doc.metadata?.name, file).toBeTruthy();
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, file).toBe('flatgate');
    }
  });

  it('every Service selects pods of a workload, and every workload references existing config', async () => {
    const docs = (await manifests()).map((d) => d.doc);
    const workloads = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet');
    const names = new Set(docs.map((d) => `${d.kind}/${d.metadata.name}`));
    for (const svc of docs.filter((d) => d.kind === 'Service')) {
      expect(workloads.some((w) => Object.entries(svc.spec.selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v))).toBe(true);
    }
    for (const w of workloads) {
      expect(w.spec.selector.matchLabels).toEqual(expect.objectContaining(w.spec.template.metadata.labels));
      for (const c of w.spec.template.spec.containers) {
        for (const ref of c.envFrom ?? []) {
          if (ref.configMapRef) expect(names.has(`ConfigMap/${ref.configMapRef.name}`)).toBe(true);
          if (ref.secretRef) expect(names.has(`Secret/${ref.secretRef.name}`)).toBe(true);
        }
      }
    }
    const worker = workloads.find((w) => w.metadata.name === 'flatgate-worker-gpu')!;
    expect(worker.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
  });

  it('passes only settings that src/config.ts reads', async () => {
    const config = await readFile(join(import.meta.dirname, '../../src/config.ts'), 'utf8');
    const docs = (await manifests()).map((d) => d.doc);
    const keys = new Set<string>();
    for (const d of docs) {
      for (const k of Object.keys(d.data ?? {})) keys.add(k);
      for (const k of Object.keys(d.stringData ?? {})) keys.add(k);
      for (const w of d.kind === 'Deployment' || d.kind === 'StatefulSet' ? d.spec.template.spec.containers : []) {
        for (const e of w.env ?? []) if (e.name.startsWith('FLATGATE_') || ['HOST', 'PORT'].includes(e.name)) keys.add(e.name);
      }
    }
    for (const k of keys) expect(config.includes(`'${k}'`) || config.includes(`raw.${k}`), `${k} is not read by src/config.ts`).toBe(true);
  });
});

describe('container images', () => {
  it('the Dockerfiles copy what exists and run the entries we ship', async () => {
    for (const file of ['gateway.Dockerfile', 'worker-gpu.Dockerfile']) {
      const text = await readFile(join(INFRA, file), 'utf8');
      for (const m of text.matchAll(/^COPY (\S+(?: \S+)*) \S+$/gm)) {
        for (const src of m[1].split(' ')) await expect(readFile(join(INFRA, '..', src)).catch((e) => (e.code === 'EISDIR' ? 'dir' : Promise.reject(e)))).resolves.toBeTruthy();
      }
    }
    expect(await readFile(join(INFRA, 'worker-gpu.Dockerfile'), 'utf8')).toContain('--onnxruntime-node-install=cuda12');
  });

  it('both images run workers (the gateway its embedded one), so both carry the default task data folder', async () => {
    for (const file of ['gateway.Dockerfile', 'worker-gpu.Dockerfile']) {
      expect(await readFile(join(INFRA, file), 'utf8'), file).toMatch(/^COPY fixtures\/tasks \.\/fixtures\/tasks$/m);
    }
  });
});

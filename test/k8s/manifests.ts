// Offline validation of rendered manifests against the Kubernetes API types: kubernetes-models'
// validators (types, required fields, formats) plus a walk over @kubernetes/client-node's model
// metadata, which knows every field of every type and so catches the unknown ones (a typo such as
// `readOnlyRootFileSystem` that an API server would drop or refuse).
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

export function parseManifests(yamlText: string): Manifest[] {
  return parseAllDocuments(yamlText)
    .map((d) => {
      if (d.errors.length) throw new Error(`YAML error: ${d.errors[0].message}`);
      return d.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

type AttributeType = { baseName: string; type: string };
type ModelClass = { getAttributeTypeMap(): AttributeType[] };
const models = k8s as unknown as Record<string, ModelClass | undefined>;
const LEAF = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

/** Fields of `value` that the model `type` does not have, as JSON paths. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined || LEAF.has(type)) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1], `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return typeof value === 'object' ? Object.entries(value as object).flatMap(([k, v]) => unknownFields(v, map[1], `${path}.${k}`)) : [];
  const model = models[type];
  if (!model?.getAttributeTypeMap) return [`${path || '(root)'}: no model metadata for type ${type}`];
  if (typeof value !== 'object' || Array.isArray(value)) return [];
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value as object).flatMap(([k, v]) => {
    const t = attrs.get(k);
    return t === undefined ? [`${path}.${k}: unknown field in ${type}`] : unknownFields(v, t, `${path}.${k}`);
  });
}

async function kubernetesModel(apiVersion: string, kind: string): Promise<(new (o: unknown) => { validate(): void }) | undefined> {
  try {
    const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, unknown>;
    return mod[kind] as new (
      o: unknown,
    ) => { validate(): void };
  } catch {
    return undefined;
  }
}

/** Custom resources the chart may render, which neither library knows: checked by hand. */
const CUSTOM: Record<string, (m: Manifest) => string[]> = {
  'monitoring.coreos.com/v1/ServiceMonitor': (m) => {
    const spec = m.spec as { selector?: unknown; endpoints?: { port?: string }[] };
    return [
      ...(spec?.selector ? [] : ['spec.selector: required']),
      ...(spec?.endpoints?.length && spec.endpoints.every((e) => e.port) ? [] : ['spec.endpoints: need a port each']),
    ];
  },
  'monitoring.coreos.com/v1/PodMonitor': (m) => {
    const spec = m.spec as { selector?: unknown; podMetricsEndpoints?: { port?: string }[] };
    return [
      ...(spec?.selector ? [] : ['spec.selector: required']),
      ...(spec?.podMetricsEndpoints?.length && spec.podMetricsEndpoints.every((e) => e.port) ? [] : ['spec.podMetricsEndpoints: need a port each']),
    ];
  },
};

/** Every problem found in one manifest; empty when valid. */
export async function validateManifest(m: Manifest): Promise<string[]> {
  const where = `${m.kind}/${m.metadata?.name}`;
  const custom = CUSTOM[`${m.apiVersion}/${m.kind}`];
  if (custom) return [...custom(m), ...unknownFields(m.metadata, 'V1ObjectMeta', '.metadata')].map((e) => `${where}: ${e}`);
  const Model = await kubernetesModel(m.apiVersion, m.kind);
  if (!Model) return [`${where}: unknown apiVersion/kind ${m.apiVersion}/${m.kind}`];
  const problems: string[] = [];
  try {
    new Model(m).validate();
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
  }
  const version = m.apiVersion.split('/').pop()!;
  const typeName = `${version[0].toUpperCase()}${version.slice(1)}${m.kind}`;
  problems.push(...unknownFields(m, typeName).map((e) => `${where}: ${e}`));
  return problems;
}

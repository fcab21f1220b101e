import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

/**
 * Checks Kubernetes manifests offline against the API types of the `kubernetes-models` package
 * (MIT; generated from Kubernetes' OpenAPI spec, schemas and validators shipped in the package).
 * Two passes, because each misses what the other finds:
 *  - `validate()`: the OpenAPI schema (types, required fields, enums, formats such as quantities);
 *  - a TypeScript excess-property check of the same objects against the package's types: the
 *    OpenAPI schemas allow unknown fields, so a misspelt `periodSecond` passes them, while the
 *    API server (and `kubectl apply --validate=strict`) refuses it.
 */

export interface Manifest {
  file: string;
  index: number;
  apiVersion: string;
  kind: string;
  body: Record<string, unknown>;
}

const require = createRequire(import.meta.url);

/** Every YAML document of every *.yaml file in `dir` but the kustomization. */
export function loadManifests(dir: string): Manifest[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc, index) => {
        if (doc.errors.length > 0) throw new Error(`${file} document ${index}: ${doc.errors.map((e) => e.message).join('; ')}`);
        const body = doc.toJSON() as Record<string, unknown>;
        return { file, index, apiVersion: String(body.apiVersion), kind: String(body.kind), body };
      }),
    );
}

/** The model module of an API object, e.g. `kubernetes-models/apps/v1/Deployment`. */
function modelPath(m: Pick<Manifest, 'apiVersion' | 'kind'>): string {
  return `kubernetes-models/${m.apiVersion}/${m.kind}`;
}

/** Validates against the OpenAPI schema; resolves with the error text, or undefined when valid. */
export function schemaError(m: Manifest): string | undefined {
  let Model: new (data: unknown) => { validate(): void };
  try {
    Model = (require(modelPath(m)) as Record<string, typeof Model>)[m.kind]!;
  } catch {
    return `${m.apiVersion} ${m.kind} is not a Kubernetes API type kubernetes-models knows`;
  }
  try {
    new Model(m.body).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Type-checks every manifest as an object literal of its API type (`I<Kind>`); resolves with
 * one line per TypeScript error, empty when every field is known and well typed.
 */
export function strictFieldErrors(manifests: Manifest[], root: string): string[] {
  // The file lives (virtually) in the repository root so `kubernetes-models` resolves from node_modules.
  const fileName = join(root, '__k8s_manifests_check.ts');
  const lines = manifests.map(
    (m, i) => `import type { I${m.kind} as T${i} } from '${modelPath(m)}';\nexport const m${i}: T${i} = ${JSON.stringify(m.body)};`,
  );
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError) =>
    name === fileName ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, onError);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === fileName)
    .map((d) => {
      const line = d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line;
      const m = manifests[Math.floor(line / 2)];
      return `${m ? `${m.file} #${m.index} ${m.kind}` : '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
}

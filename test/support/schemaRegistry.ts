import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny Confluent-compatible schema registry for tests (no registry server installs on these
 * machines). It implements the REST calls @kafkajs/confluent-schema-registry 3 makes
 * (dist/api/index.js):
 *
 * - `POST /subjects/{subject}/versions` register (same schema text → same id, as Confluent does)
 * - `GET  /schemas/ids/{id}`             the schema text by id
 * - `GET  /subjects`, `GET /subjects/{subject}/versions/{version|latest}`
 * - `POST /subjects/{subject}`           look a schema up under a subject
 * - `GET|PUT /config/{subject}`          compatibility level (404 until set, as Confluent answers)
 *
 * Errors use Confluent's shape `{error_code, message}`. Schemas are compared as text, not
 * canonicalised; there is no compatibility checking.
 */
export class SchemaRegistryServer {
  /** id → schema text. Ids start at 1. */
  readonly schemas = new Map<number, string>();
  /** subject → ids of its versions, in order. */
  readonly subjects = new Map<string, number[]>();
  readonly compatibility = new Map<string, string>();
  /** Every request as `METHOD path`, to check what the client called. */
  readonly requests: string[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => send(res, 500, { error_code: 50001, message: String(err) }));
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  /** The id registered for `subject` (its latest version). */
  idOf(subject: string): number | undefined {
    return this.subjects.get(subject)?.at(-1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://registry');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    this.requests.push(`${method} ${url.pathname}`);
    const body = method === 'POST' || method === 'PUT' ? await readJson(req) : undefined;

    if (method === 'GET' && parts[0] === 'schemas' && parts[1] === 'ids' && parts.length === 3) {
      const schema = this.schemas.get(Number(parts[2]));
      return schema === undefined
        ? send(res, 404, { error_code: 40403, message: 'Schema not found' })
        : send(res, 200, { schema });
    }
    if (method === 'GET' && parts.length === 1 && parts[0] === 'subjects')
      return send(res, 200, [...this.subjects.keys()]);
    if (parts[0] === 'subjects' && parts.length === 3 && parts[2] === 'versions' && method === 'POST') {
      const subject = parts[1]!;
      const schema = (body as { schema?: unknown } | undefined)?.schema;
      if (typeof schema !== 'string') return send(res, 422, { error_code: 42201, message: 'Invalid schema' });
      return send(res, 200, { id: this.register(subject, schema) });
    }
    if (parts[0] === 'subjects' && parts.length === 4 && parts[2] === 'versions' && method === 'GET') {
      const versions = this.subjects.get(parts[1]!);
      if (!versions) return send(res, 404, { error_code: 40401, message: 'Subject not found' });
      const version = parts[3] === 'latest' ? versions.length : Number(parts[3]);
      const id = versions[version - 1];
      if (id === undefined) return send(res, 404, { error_code: 40402, message: 'Version not found' });
      return send(res, 200, { subject: parts[1], version, id, schema: this.schemas.get(id) });
    }
    if (parts[0] === 'subjects' && parts.length === 2 && method === 'POST') {
      const schema = (body as { schema?: unknown } | undefined)?.schema;
      const versions = this.subjects.get(parts[1]!) ?? [];
      const index = versions.findIndex((id) => this.schemas.get(id) === schema);
      if (index < 0) return send(res, 404, { error_code: 40403, message: 'Schema not found' });
      return send(res, 200, { subject: parts[1], version: index + 1, id: versions[index], schema });
    }
    if (parts[0] === 'config' && parts.length === 2) {
      const subject = parts[1]!;
      if (method === 'PUT') {
        const level = (body as { compatibility?: unknown } | undefined)?.compatibility;
        if (typeof level !== 'string')
          return send(res, 422, { error_code: 42203, message: 'Invalid compatibility level' });
        this.compatibility.set(subject, level);
        return send(res, 200, { compatibility: level });
      }
      const level = this.compatibility.get(subject);
      return level === undefined
        ? send(res, 404, {
            error_code: 40408,
            message: `Subject '${subject}' does not have subject-level compatibility configured`,
          })
        : send(res, 200, { compatibilityLevel: level });
    }
    send(res, 404, { error_code: 404, message: `no route for ${method} ${url.pathname}` });
  }

  private register(subject: string, schema: string): number {
    let id = [...this.schemas].find(([, text]) => text === schema)?.[0];
    if (id === undefined) {
      id = this.schemas.size + 1;
      this.schemas.set(id, schema);
    }
    const versions = this.subjects.get(subject) ?? [];
    if (!versions.includes(id)) versions.push(id);
    this.subjects.set(subject, versions);
    return id;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(body));
}

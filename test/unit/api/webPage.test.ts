import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebPage } from '../../../src/api/webPage.js';

/** The static page handler on a real node:http server over a temporary build folder. */
async function serve(dir: string): Promise<{ url: string; server: Server }> {
  const page = createWebPage(dir);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    void page(req, res, url).then((served) => {
      if (!served) {
        res.writeHead(404);
        res.end('not served');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('the web page handler', () => {
  let root: string;
  let built: { url: string; server: Server };
  let empty: { url: string; server: Server };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'beacon-web-'));
    await mkdir(join(root, 'web', 'assets'), { recursive: true });
    await writeFile(join(root, 'web', 'index.html'), '<!doctype html><title>Beacon</title>');
    await writeFile(join(root, 'web', 'assets', 'main-ABC123.js'), 'console.log(1)');
    await writeFile(join(root, 'web', 'assets', 'styles-XYZ.css'), 'body{}');
    await writeFile(join(root, 'secret.txt'), 'do not serve');
    built = await serve(join(root, 'web'));
    empty = await serve(join(root, 'missing'));
  });
  after(async () => {
    built.server.close();
    empty.server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves index.html at / with no-cache, a CSP and an ETag, and 304 for a matching If-None-Match', async () => {
    const res = await fetch(`${built.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy')!, /default-src 'self'/);
    assert.equal(await res.text(), '<!doctype html><title>Beacon</title>');
    const etag = res.headers.get('etag')!;
    assert.match(etag, /^"[\w-]+"$/);
    const again = await fetch(`${built.url}/`, { headers: { 'if-none-match': `"other", ${etag}` } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
  });

  it('serves hashed assets with their content type, cached for a year', async () => {
    const js = await fetch(`${built.url}/assets/main-ABC123.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const css = await fetch(`${built.url}/assets/styles-XYZ.css`, { method: 'HEAD' });
    assert.equal(css.status, 200);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal(css.headers.get('content-length'), '6');
  });

  it('serves nothing outside the build folder, nor other methods or unknown paths', async () => {
    for (const path of [
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e%2fsecret.txt',
      '/assets/.hidden',
      '/assets/',
      '/secret.txt',
      '/assets/nope.js',
      '/api/v1/status',
    ]) {
      const res = await fetch(`${built.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(await res.text(), 'not served', path);
    }
    const post = await fetch(`${built.url}/`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 404);
  });

  it('says how to build the page when it was never built', async () => {
    const res = await fetch(`${empty.url}/`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, 'BEACON_E_WEB_NOT_BUILT');
    assert.match(body.message, /npm run build/);
  });
});

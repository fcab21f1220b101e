import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { stopAndRemove, type BeaconProcess } from './beaconProcess.js';

/**
 * The scaffolding every browser test of a client library shares: the library's npm package
 * bundled with esbuild (nothing from a CDN), a site on a port of its own (so the library's
 * requests to Beacon are cross-origin), and one teardown (the file sink is read with
 * ./sinkFile.ts).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A local HTTP server on a free port of 127.0.0.1, with its origin and a close that drops kept-alive connections. */
export interface Site {
  origin: string;
  close(): Promise<void>;
}

export async function serveSite(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Site> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A site whose every page is a small "Shop" page loading `scriptPath`, which answers `script`
 * (a promise may be given, so the bundle can build while Beacon and the browser start). The
 * page names an empty icon: no favicon request, whose failure would be logged as an error.
 */
export function startScriptSite(scriptPath: string, script: string | Promise<string>): Promise<Site> {
  return serveSite((req, res) => {
    if (req.url === scriptPath) {
      void Promise.resolve(script).then((js) => {
        res.writeHead(200, { 'Content-Type': 'text/javascript', 'Cache-Control': 'no-store' });
        res.end(js);
      });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(
      `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title><link rel="icon" href="data:,"><script src="${scriptPath}"></script></head><body><h1>Shop</h1></body></html>`,
    );
  });
}

/** `entry` (ES module source resolved from the project root, so it imports installed packages) as one browser script. */
export async function bundleForPage(
  entry: string,
  options: { minify?: boolean; target?: string } = {},
): Promise<string> {
  const result = await build({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
    ...(options.minify ? { minify: true } : {}),
    ...(options.target ? { target: options.target } : {}),
  });
  return result.outputFiles[0]!.text;
}

/** Closes what a browser test opened (any part may be missing if `before` failed) and checks Beacon exited 0. */
export async function closeBrowserTest(parts: {
  browser?: Browser;
  site?: Site;
  beacon?: BeaconProcess;
}): Promise<void> {
  await parts.browser?.close();
  await parts.site?.close();
  await stopAndRemove(parts.beacon);
}

/**
 * What the scenarios share within one run: options, the temp dir, progress output, and the
 * servers (nginx and the "load" Beacon used by pixel and batch), each started once on first use.
 */
import { join } from 'node:path';
import type { BenchOptions } from './options.js';
import { startNginx, type NginxRef } from './nginx.js';
import { startBeacon, type BeaconServer, type SinkSpec } from './beacon.js';
import type { RssPeak } from './rss.js';
import { runWrk, type WrkResult } from './wrk.js';

export class BenchContext {
  private nginx: Promise<NginxRef> | undefined;
  private beacon: Promise<BeaconServer> | undefined;
  readonly rssPeaks: RssPeak[] = [];
  private readonly t0 = Date.now();

  constructor(
    readonly opts: BenchOptions,
    readonly tmp: string,
  ) {}

  log(msg: string): void {
    const s = ((Date.now() - this.t0) / 1000).toFixed(0).padStart(4);
    console.log(`[${s}s] ${msg}`);
  }

  getNginx(): Promise<NginxRef> {
    this.nginx ??= startNginx(join(this.tmp, 'nginx')).then((n) => {
      this.log(`nginx reference up on ${n.url} (pid ${n.proc.child.pid})`);
      return n;
    });
    return this.nginx;
  }

  /** Beacon as the brief's example config: one file sink, workers auto. */
  getLoadBeacon(): Promise<BeaconServer> {
    if (!this.beacon) {
      const dir = join(this.tmp, 'beacon-load');
      const sinks: SinkSpec[] = [{ name: 'bench-file', type: 'file', path: join(dir, 'out.ndjson'), codec: 'json' }];
      this.log('starting Beacon (load config: one file sink)');
      this.beacon = startBeacon({ dir, sinks }).then((b) => {
        this.log(`Beacon up on ${b.url} (pid ${b.proc.child.pid})`);
        return b;
      });
      // A failed start is reported by whoever awaits it; don't let it become unhandled here.
      this.beacon.catch(() => undefined);
    }
    return this.beacon;
  }

  /** Warm-up (discarded) then the measured wrk run. */
  async load(
    label: string,
    url: string,
    script: string,
    scriptName: string,
    beforeMeasure?: () => void,
  ): Promise<WrkResult> {
    const { opts } = this;
    const base = { url, connections: opts.connections, threads: opts.threads, script, scriptDir: this.tmp, scriptName };
    if (opts.warmupSec > 0) {
      this.log(`${label}: warm-up ${opts.warmupSec} s`);
      await runWrk({ ...base, durationSec: opts.warmupSec });
    }
    beforeMeasure?.();
    this.log(
      `${label}: measuring ${opts.durationSec} s (${opts.connections} connections, ${opts.threads} thread${opts.threads > 1 ? 's' : ''})`,
    );
    const r = await runWrk({ ...base, durationSec: opts.durationSec });
    this.log(
      `${label}: ${Math.round(r.rps).toLocaleString('en-US')} req/s, p50 ${r.latency.p50.toFixed(2)} ms, p99 ${r.latency.p99.toFixed(2)} ms`,
    );
    return r;
  }

  async shutdown(): Promise<void> {
    const b = await this.beacon?.catch(() => undefined);
    if (b) {
      this.log('stopping Beacon (SIGTERM)');
      this.rssPeaks.push(await b.stop());
    }
    const n = await this.nginx?.catch(() => undefined);
    if (n) await n.stop();
  }
}

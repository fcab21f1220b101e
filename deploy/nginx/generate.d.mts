/** Types of deploy/nginx/generate.mjs, for the tests that render the nginx config. */
export interface NginxOptions {
  /** HOST:PORT of each collector. */
  collectors: string[];
  serverName: string;
  cert: string;
  key: string;
  /** `[HOST:]PORT` nginx listens on for HTTPS. */
  httpsListen: string;
  /** `[HOST:]PORT` nginx listens on for plain HTTP. */
  httpListen: string;
  /** An nginx size (`1m`): keep it equal to Beacon's server.limits.bodyBytes. */
  bodySize: string;
  /** An nginx time (`5s`). */
  failTimeout: string;
  accessLog: string;
  /** HOST:PORT of each server for /api/ (--role api or dispatcher); empty: the collectors serve it. */
  api: string[];
}
export declare const DEFAULTS: Readonly<NginxOptions>;
export declare function checkOptions(options: NginxOptions): void;
export declare function renderNginxConfig(options: NginxOptions): string;
export declare function optionsFromArgs(args: string[]): { help: boolean; out: string | undefined; options: NginxOptions };

import type { AddressInfo } from 'node:net';
import type { AdminHandler } from '../../api/adminRequest.js';
import { createApiHttpServer } from '../../api/apiHttpServer.js';
import { part, type Part } from './part.js';
import type { ProcessContext } from './processContext.js';

export interface ApiServerPart extends Part {
  address: AddressInfo;
}

/** The HTTP server of a process without intake (--role dispatcher, --role api): the API only. Its stop drains like intake's. */
export async function startApiServer(
  ctx: ProcessContext,
  handler: AdminHandler,
  notFound?: (path: string) => string,
): Promise<ApiServerPart> {
  const { config, logger } = ctx;
  const http = createApiHttpServer({ server: config.server, handler, logger, notFound });
  const address = await http.listen(config.server.port, config.server.host);
  return { ...part('api', 'intake', () => http.drain(config.dispatch.shutdownTimeout)), address };
}
